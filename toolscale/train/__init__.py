"""The orchestrator's GRPO trainer: TRL's GRPOTrainer with ToolScale's environment and reward (docs/design.md, decision 7).

`config` is the documented run config, `environment` the per-rollout tool environment, `experts` the
priced model tools, `reward` docs/design.md's Reward, `data` task rows to prompts, `tiny` the CPU smoke
model, `metrics` the JSONL log and plot, and `trainer` wires them to `trl.GRPOTrainer`.
"""
