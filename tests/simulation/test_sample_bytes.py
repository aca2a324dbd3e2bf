"""The defaults do not change: ``farside simulate sample_images --seed 42 --force`` writes the
committed sample_images/: every image and label byte for byte (sha256); the JSON sidecars
(ISDs, truth) value for value, numbers to 1e-12 relative.

Why not the JSON bytes too: the cameras' quaternions are computed with numpy's
transcendental functions, whose last bit depends on the CPU's SIMD path (measured: a machine
with AVX-512 writes 0.49225878001966555 where the committed sample, made on another, holds
0.49225878001966566; 4 sidecars of 36 differ in the 17th digit, no pixel does). A real change
of the defaults moves them by far more than 1e-12.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "sample_images"


def _files(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() != "README.md"  # hand-written, not generated
    }


def _same(a, b) -> bool:
    """JSON values equal, floats to 1e-12 relative (and 1e-12 absolute near zero)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12))
    return a == b


def test_json_comparison_catches_a_real_change():
    assert _same({"q": [0.49225878001966555, 1]}, {"q": [0.49225878001966566, 1]})
    assert not _same({"q": [0.49225878001, 1]}, {"q": [0.49225878002, 1]})  # 2e-11 apart
    assert not _same({"q": 1}, {"q": 1, "r": 2}) and not _same(["a"], ["b"])


@pytest.mark.slow  # renders the whole sample: 8-12 s on an idle machine, 20-33 s on the shared 2 cores
def test_cli_regenerates_the_committed_sample(tmp_path):
    if not (SAMPLE / "truth" / "survey.json").is_file():
        pytest.skip("sample_images/ not generated (make sample)")
    out = tmp_path / "sample_images"
    result = CliRunner().invoke(main, ["simulate", str(out), "--seed", "42", "--force"])
    assert result.exit_code == 0, result.output
    committed, regenerated = _files(SAMPLE), _files(out)
    assert sorted(regenerated) == sorted(committed)
    changed = []
    for name, path in committed.items():
        a, b = path.read_bytes(), regenerated[name].read_bytes()
        if a == b:
            continue
        if not (name.endswith(".json") and _same(json.loads(a), json.loads(b))):
            changed.append(name)
    assert not changed, f"{len(changed)} files differ from the committed sample: {changed[:10]}"
