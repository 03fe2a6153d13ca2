"""`toolscale eval`: policies run over a split of tasks with the trainer's environment, outcome and reward.

`config` is the eval config, `baselines` the policies that bound the scale (gold replay, do-nothing,
random calls, the most expensive expert), `endpoint` an OpenAI-compatible server through the `openai`
package, `local` a transformers model or checkpoint, `runner` the resumable run that writes results and
trajectories, `figures` the summary table and `plots` its charts. docs/eval.md describes the outputs.
"""
