"""``load_mvp_model(dir)``: the right model class for a directory, chosen by its config."""

from __future__ import annotations

from pathlib import Path

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.config import CONFIG_NAME, MVPConfig


def load_mvp_model(model_dir: str | Path):
    """Load an MVP (``t5`` or ``encoder``) or cross-encoder model saved by viewrank.

    A directory without ``viewrank_mvp.json`` but with a T5 ``config.json`` is read as a plain
    T5 / released MVP checkpoint (m = 4).
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise ViewrankError(f"model directory {path} does not exist (train one with `viewrank train mvp --output {path}`)")
    if not (path / CONFIG_NAME).is_file():
        hf = path / "config.json"
        if hf.is_file() and '"t5"' in hf.read_text(encoding="utf-8"):
            from viewrank.plugins.mvp.t5_model import T5MVP

            return T5MVP.from_t5(path)
        raise ViewrankError(f"{path} is not an MVP model directory ({CONFIG_NAME} missing)")
    variant = MVPConfig.load(path).variant
    if variant == "encoder":
        from viewrank.plugins.mvp.encoder_model import EncoderMVP

        return EncoderMVP.load(path)
    if variant == "t5":
        from viewrank.plugins.mvp.t5_model import T5MVP

        return T5MVP.load(path)
    from viewrank.plugins.mvp.cross_encoder import CrossEncoder

    return CrossEncoder.load(path)
