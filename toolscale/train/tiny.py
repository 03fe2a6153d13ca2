"""The CPU smoke model: a tiny randomly initialized causal LM and a tokenizer trained on the fly.

The tokenizer is byte-level BPE trained on the very prompts the model reads (policy, tool schemas,
pricing, request), splitting only at line ends, so text repeated across prompts compresses into few
tokens: a bank prompt of ~10,000 characters becomes ~150 tokens, which keeps a CPU step short.
A random model almost never writes a well-formed tool call, so a smoke run would test nothing past
the first turn. The tokenizer therefore also holds *whole actions* as single tokens: each gold tool
call of the training tasks (rendered as the chat template renders a tool call), a `call_expert` for
each alias, and each task's final reply; the model's output bias starts with most of its mass on
those and on end-of-turn. The policy still samples, acts through the real engine, is scored by the
real reward and learns by GRPO; only its action space is small. Byte-level BPE still encodes any
text (tool results, stray output).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PhiConfig, PhiForCausalLM, PreTrainedTokenizerFast
from transformers.utils.chat_template_utils import render_jinja_template
from trl.chat_template_utils import qwen2_5_chat_template

from toolscale.tasks.record import ToolScaleTask
from toolscale.train.config import TinyModelConfig
from toolscale.train.data import prompt
from toolscale.train.environment import ToolScaleEnvironment, environment_tools

END_OF_TURN = "<|im_end|>"
PAD = "<|endoftext|>"
# Qwen 2.5's chat template, whose tool calls TRL knows how to parse, and its markers.
CHAT_TEMPLATE = qwen2_5_chat_template
MARKERS = ["<|im_start|>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
EXPERT_QUESTION = "What should I do next?"


def tool_call_text(name: str, arguments: dict[str, object]) -> str:
    """A tool call exactly as the chat template renders an assistant's tool call."""
    return f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(arguments)}}}\n</tool_call>'


def reply_text(task: ToolScaleTask) -> str:
    info = (task.evaluation_criteria.communicate_info or []) if task.evaluation_criteria else []
    return "Done. " + "; ".join(info) if info else "Done."


def action_texts(tasks: Iterable[ToolScaleTask]) -> list[str]:
    """Whole actions for these tasks: their gold calls, one call per expert alias, and their replies."""
    texts: dict[str, None] = {}  # ordered and unique
    for task in tasks:
        for action in task.actions:
            texts[tool_call_text(action.name, action.arguments)] = None
        for alias in task.pricing.experts:
            texts[tool_call_text("call_expert", {"expert": alias, "question": EXPERT_QUESTION})] = None
        texts[reply_text(task)] = None
    return list(texts)


def rendered_prompts(
    tasks: Iterable[ToolScaleTask], environments: Mapping[str, type[ToolScaleEnvironment]], *, solo: bool = True
) -> list[str]:
    """Each task's prompt as the chat template renders it with its domain's tool schemas: what the model reads."""
    return [
        render_jinja_template(
            [prompt(task, solo=solo)],
            tools=list[dict[Any, Any] | Callable[..., Any]](environment_tools(environments[task.domain])),
            chat_template=CHAT_TEMPLATE,
            add_generation_prompt=True,
        )[0][0]
        for task in tasks
    ]


def tiny_tokenizer(texts: Iterable[str], actions: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex("\n"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, END_OF_TURN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    model.train_from_iterator(texts, trainer=trainer)
    model.add_tokens([AddedToken(text, normalized=False, special=False) for text in [*MARKERS, *actions]])
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=model, eos_token=END_OF_TURN, pad_token=PAD, padding_side="left"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(tokenizer: PreTrainedTokenizerFast, actions: Sequence[str], config: TinyModelConfig) -> PhiForCausalLM:
    """A random Phi (its output layer has a bias, which holds the action prior) sized for a CPU."""
    torch.manual_seed(config.seed)
    model = PhiForCausalLM(
        PhiConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            intermediate_size=4 * config.hidden_size,
            num_hidden_layers=config.layers,
            num_attention_heads=config.heads,
            max_position_embeddings=config.max_positions,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=False,
        )
    )
    action_ids = tokenizer.convert_tokens_to_ids(list(actions))
    assert isinstance(action_ids, list)
    end = tokenizer.eos_token_id
    assert isinstance(end, int)
    vocabulary = len(tokenizer)
    text_tokens = vocabulary - len(action_ids) - 1
    bias = torch.full((vocabulary,), math.log((1 - config.action_share - config.end_share) / text_tokens))
    bias[action_ids] = math.log(config.action_share / len(action_ids))
    bias[end] = math.log(config.end_share)
    with torch.no_grad():
        model.lm_head.bias.copy_(bias)
    return model
