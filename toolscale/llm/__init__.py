"""LLM backends behind one interface (docs/llm.md): requests in, validated replies out, cached on disk.

`template` needs no model (scenarios stay as the grammar writes them); `openai` talks to any
OpenAI-compatible server through the official client; `vllm` generates in process with `vllm.LLM`.
Everything above this package sees only `LLMClient` (types.py) and `LLMConfig` (config.py).
"""
