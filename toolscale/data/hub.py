"""Publishing a pipeline output directory as a Hugging Face dataset repo."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from toolscale.errors import ToolScaleError

# What a dataset repo holds: the card, stats and shards; never the databases, work units or manifest.
PUBLISHED = ["README.md", "stats.json", "stats/*.json", "stats/*.png", "data/**/*.parquet", "rejected/*.parquet"]


class PushError(ToolScaleError, ValueError):
    pass


def push_dataset(output_dir: Path, repo: str, *, private: bool = False, api: HfApi | None = None) -> str:
    """Uploads the dataset in `output_dir` to `repo` (created if needed); returns the commit URL.

    The token comes from the environment (HF_TOKEN) or the local login, as huggingface_hub finds it;
    it is never passed around or printed here. Files that disappeared locally (e.g. shards of a
    re-sharded domain) are deleted from the repo too, so the card and the files agree.
    """
    if not (output_dir / "README.md").is_file() or not (output_dir / "data").is_dir():
        raise PushError(f"{output_dir}: not a pipeline output (README.md and data/ missing); run `toolscale run` first")
    api = api or HfApi()
    api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo,
        repo_type="dataset",
        folder_path=output_dir,
        allow_patterns=PUBLISHED,
        delete_patterns=PUBLISHED,
        commit_message=f"ToolScale dataset from {output_dir.name}",
    )
    return str(commit.commit_url)
