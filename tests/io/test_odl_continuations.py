"""The ODL/PVL parser on every real label in ../shared (pvl as the oracle), ISIS's '-' line
continuations and the other ISIS constructs, and strict errors with line numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.io.odl import Label, LabelSyntaxError, Quantity, parse_label
from pipeline.io.pds3 import looks_like_odl, read_label_text

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def _real_labels() -> list[Path]:
    """Every ISIS cube, PVL file and PDS3 label (attached or detached) under ../shared/reference."""
    if not SHARED.is_dir():
        return []
    found = []
    for pattern in ("isis3/*.cub", "isis3/*.pvl", "linescan/nac-crop/*.cub", "linescan/isds/isis3/*.pvl",
                    "pds3/**/*"):
        for path in sorted(SHARED.glob(pattern)):
            if not path.is_file() or path.suffix.lower() in (".md",):
                continue
            with path.open("rb") as fh:
                head = fh.read(64)
            labelled = looks_like_odl(head) or head.lower().startswith(b"object")
            if path.suffix.lower() in (".img", ".cub") and not labelled:
                continue  # a data file without a label
            found.append(path)
    return found


REAL = _real_labels()


def _text(path: Path) -> str:
    attached = path.suffix.lower() in (".img", ".cub")
    return read_label_text(path, attached=attached)[0]


def _differences(mine, theirs, where=""):
    """Yield every difference between farside's parse and pvl's (the oracle)."""
    import pvl

    if hasattr(theirs, "getall"):  # pvl module, object or group (a multidict)
        yield from _block_differences(mine, theirs, where)
    elif isinstance(theirs, pvl.collections.Quantity):
        if not isinstance(mine, Quantity) or mine.unit.strip() != str(theirs.units).strip():
            yield f"{where}: {mine!r} vs {theirs!r}"
        else:
            yield from _differences(mine.value, theirs.value, where)
    elif isinstance(theirs, (list, tuple)):
        if not isinstance(mine, tuple) or len(mine) != len(theirs):
            yield f"{where}: {mine!r} vs {theirs!r}"
        else:
            for i, (a, b) in enumerate(zip(mine, theirs)):
                yield from _differences(a, b, f"{where}[{i}]")
    else:
        yield from _leaf_differences(mine, theirs, where)


def _block_differences(mine, theirs, where):
    """Yield the differences of a pvl block (module, object or group) and farside's :class:`Label`."""
    if not isinstance(mine, Label):
        yield f"{where}: block vs {type(mine).__name__}"
        return
    groups: dict[str, list] = {}
    for key, value in theirs.items():
        groups.setdefault(key.upper(), []).append(value)
    if set(groups) != set(mine.all):
        yield f"{where}: keys differ {sorted(set(groups) ^ set(mine.all))}"
    for key, values in groups.items():
        ours = mine.all.get(key, [])
        if len(ours) != len(values):
            yield f"{where}/{key}: {len(ours)} vs {len(values)} occurrences"
        for a, b in zip(ours, values):
            yield from _differences(a, b, f"{where}/{key}")


def _leaf_differences(mine, theirs, where):
    """Yield the difference of a pvl scalar (set, boolean, NULL, time, number, text) and farside's."""
    import pvl

    if isinstance(theirs, (set, frozenset)):
        if not isinstance(mine, tuple) or set(mine) != set(theirs):
            yield f"{where}: {mine!r} vs {theirs!r}"
    elif isinstance(theirs, bool):  # pvl reads TRUE/FALSE as booleans; farside keeps the word
        if not (isinstance(mine, str) and mine.upper() == str(theirs).upper()):
            yield f"{where}: {mine!r} vs {theirs!r}"
    elif theirs is None:  # pvl reads NULL as None
        if not (isinstance(mine, str) and mine.upper() == "NULL"):
            yield f"{where}: {mine!r} vs None"
    elif isinstance(theirs, (dt.datetime, dt.date, dt.time)):  # farside keeps times as text
        if not isinstance(mine, str) or pvl.loads(f"A = {mine}")["A"] != theirs:
            yield f"{where}: {mine!r} vs {theirs!r}"
    elif isinstance(theirs, (int, float)):
        if isinstance(mine, bool) or mine != theirs or type(mine) is not type(theirs):
            yield f"{where}: {mine!r} vs {theirs!r}"
    elif isinstance(theirs, str):
        if mine != theirs:
            yield f"{where}: {mine!r} vs {theirs!r}"
    else:
        yield f"{where}: unexpected {type(theirs).__name__}"


def test_real_labels_found():
    if not SHARED.is_dir():
        pytest.skip(f"reference data not found at {SHARED}")
    names = {p.name for p in REAL}
    assert len(REAL) >= 17 and "M143947267L.cal.echo.crop.cub" in names and "3C5_label.pvl" in names


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_every_real_label_parses_as_pvl_does(path):
    pvl = pytest.importorskip("pvl")
    text = _text(path)
    mine = parse_label(text)
    # pvl does not know ISIS's EndGroup/EndObject spelling (ISIS reads both)
    theirs = pvl.loads(text.replace("EndGroup", "End_Group").replace("EndObject", "End_Object"))
    diffs = list(_differences(mine, theirs))
    assert not diffs, diffs[:5]
    assert len(mine) > 0


def test_the_oracle_comparison_can_fail():
    pvl = pytest.importorskip("pvl")
    text = 'Object = A\n  B = "x-\n    y"\n  C = (1, 2 <m>)\nEnd_Object\nEnd\n'
    mine = parse_label(text)
    assert not list(_differences(mine, pvl.loads(text)))
    mine["A"].all["B"][0] = "x-y"
    assert list(_differences(mine, pvl.loads(text)))


@pytest.mark.parametrize(("name", "path", "expected"), [
    ("isis3/back.reduced.cub", ("ISISCUBE", "KERNELS", "SHAPEMODEL"),
     "/ser/estore/scratch/espeyerer/PRODUCTS/GLD100/WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.cub"),
    ("isis3/M1181493219CE.vis.odd.reduced.cub", ("ISISCUBE", "KERNELS", "SHAPEMODEL"),
     "data/lrowacphomap/WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub"),
    ("linescan/nac-crop/M143947267L.cal.echo.crop.cub", ("ISISCUBE", "RADIOMETRY", "DARKFILE"),
     "/ser/data1/LROC/ISIS_TEST_KERNELS/calibration/NACL_AverageDarks.0006.cub"),
    ("linescan/isds/isis3/lidarObservationImage1.pvl", ("ISISCUBE", "KERNELS", "INSTRUMENTPOSITION"),
     ("Table", "$lro/kernels/spk/LRO_NO_05_201308_GRGM660PRIMAT270.bsp")),
    ("pds3/kaguyami2isis/3C5_label.pvl", ("SPICE_METAKERNEL_FILE_NAME",),
     "RGC_INF_TCv401IK_MIv200IK_SPv105IK_RISE100i_05_100h_02_LongCK_DS_V02_de421_131210.mk"),
])
def test_isis_continuations_in_real_labels(name, path, expected):
    file = SHARED / name
    if not file.is_file():
        pytest.skip(f"{file} not found")
    value = parse_label(_text(file))
    for key in path:
        value = value[key]
    assert value == expected


def test_hapke_pvl_with_endgroup_endobject():
    file = SHARED / "isis3" / "hapke_full_reformatted.pvl"
    if not file.is_file():
        pytest.skip(f"{file} not found")
    model = parse_label(file.read_text())["PHOTOMETRICMODEL"]
    assert model["ALGORITHM"]["NAME"] == "HapkeLROC" and model["INCREF"] == 60.0
    params = model.all["PARAMETERS"]
    assert [p["BANDBINCENTER"] for p in params] == [321, 360, 415, 566, 604, 643, 689]
    assert params[6]["BANDS"] == tuple(range(55, 64))


# ----------------------------------------------------------------------------- constructs


@pytest.mark.parametrize(("text", "key", "value"), [
    ("A = abc-\n      def\n", "A", "abcdef"),                      # bare word
    ("A = abc-   \r\n      def\r\n", "A", "abcdef"),               # spaces after '-', CRLF
    ('A = "long text-\n       continued"\n', "A", "long textcontinued"),  # in a quoted string
    ('A = "two\n       lines"\n', "A", "two lines"),                # a quoted string broken without '-'
    ("A = (x-\n   y, z)\n", "A", ("xy", "z")),                      # inside a sequence
    ("A = (1, 2,-\n   3)\n", "A", (1, 2, 3)),                       # between items
    ("A = 12-\n  34 <m-\n  m>\n", "A", Quantity(1234, "mm")),       # a number and its unit
    ("A = 1-\n  .5e-\n  3\n", "A", 1.5e3),                         # a '-' before a break is never a sign
    ("A = -5\n", "A", -5),                                           # a leading '-' is a sign
    ("A = 2009-11-29T14:51:21.968\n", "A", "2009-11-29T14:51:21.968"),
])
def test_continuation_constructs(text, key, value):
    assert parse_label(text + "End\n")[key] == value


def test_isis_block_spellings_and_comments():
    text = """# an ISIS comment line
// another
Object = IsisCube
  /* a comment
     over two lines */
  Group = Dimensions
    Samples = 3 /* trailing */
  EndGroup
  BEGIN_GROUP = Pixels
    Type = Real
  END_GROUP = Pixels
EndObject
End
"""
    lab = parse_label(text)
    assert lab["ISISCUBE"]["DIMENSIONS"]["SAMPLES"] == 3 and lab["ISISCUBE"]["PIXELS"]["TYPE"] == "Real"


@pytest.mark.parametrize(("text", "line", "needle"), [
    ('A = 1\nB = "never closed\nC = 3\nEnd\n', 2, "unterminated '\"'"),
    ("A = 1\n\nB 2\nEnd\n", 3, "expected '=' after 'B'"),
    ("Object = X\n  A = 1\n  End_Group\nEnd\n", 3, "unexpected End_Group (expected END_OBJECT)"),
    ("Object = X\n  A = 1\n", 2, "missing END_OBJECT"),
    ("A = (1, 2\nB = 3\nEnd\n", 2, "expected a value, found '='"),  # where the unclosed '(' breaks
    ("A = 1 /* never closed\nB = 2\nEnd\n", 1, "unterminated comment"),
    ("A = 1\nB = <m>\nEnd\n", 2, "expected a value, found '<m>'"),
    ("Group = G\n  Object = O\n  EndGroup\nEnd\n", 3, "unexpected EndGroup (expected END_OBJECT)"),
])
def test_errors_give_the_line(text, line, needle):
    with pytest.raises(LabelSyntaxError) as info:
        parse_label(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ") and needle in str(info.value)


def test_reader_error_names_the_file_and_line(tmp_path):
    from pipeline.errors import UnreadableFrame
    from pipeline.io import read_meta

    path = tmp_path / "bad.cub"
    path.write_bytes(b"Object = IsisCube\n  Object = Core\n    StartByte 65537\n  End_Object\nEnd_Object\nEnd\n"
                     + b"\0" * 64)
    with pytest.raises(UnreadableFrame, match=r"bad.cub: ISIS cube label is not valid PVL: line 3: expected '='"):
        read_meta(path)
