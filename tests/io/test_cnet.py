"""The control network as ISIS PVL (parsed with ``pvl``), CSV and Parquet (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import MosaicError
from pipeline.geometry.body import lonlat_to_xyz_deg
from pipeline.io.cnet import columns_of, read_network, write_network
from pipeline.registration import ControlNetwork


@pytest.fixture
def network() -> ControlNetwork:
    """Two tie points seen by 3 and 2 frames (one measure rejected) and one ground control point."""
    return ControlNetwork(
        point_id=np.array([0, 0, 0, 7, 7, -1]),
        frame_id=np.array(["F00", "F01", "F02", "F01", "F02", "F00"], dtype=object),
        line=np.array([10.25, 200.5, 0.5, 319.5, 3.125, 160.0]),
        sample=np.array([0.5, 100.0, 50.75, 0.0, 319.999, 160.0]),
        lon_deg=np.array([179.5, 179.5, 179.5, -179.75, -179.75, 180.0]),
        lat_deg=np.array([1.25, 1.25, 1.25, -0.5, -0.5, 0.0]),
        residual_before_px=np.array([1.5, 2.0, 0.5, 3.0, 1.0, 0.7]),
        residual_after_px=np.array([0.05, 0.1, 0.02, 2.5, 0.03, 0.2]),
        outlier=np.array([False, False, False, True, False, False]),
        control=np.array([False, False, False, False, False, True]),
    )


def test_pvl_network_parses_with_pvl_in_isis_conventions(network, tmp_path):
    pvl = pytest.importorskip("pvl")
    path = write_network(columns_of(network), tmp_path / "net.net", serial_numbers={"F00": "SIM/CAM/0001"})
    doc = pvl.load(str(path))
    net = doc["ControlNetwork"]
    assert net["Version"] == 5 and net["TargetName"] == "Moon"
    assert [float(v) for v in net["TargetRadii"].value] == [1737400.0] * 3
    points = net.getall("ControlPoint")
    assert [p["PointId"] for p in points] == ["farside_gcp_000000", "farside_000000", "farside_000007"]
    gcp, tie, other = points
    assert gcp["PointType"] == "Fixed" and gcp["AprioriXYZSource"] == "Basemap"
    assert tie["PointType"] == "Free" and "AprioriX" not in tie
    xyz = lonlat_to_xyz_deg(179.5, 1.25)
    assert [tie[k].value for k in ("AdjustedX", "AdjustedY", "AdjustedZ")] == pytest.approx(xyz, abs=1e-6)
    assert tie["AdjustedX"].units == "meters"
    measures = tie.getall("ControlMeasure")
    assert [m["SerialNumber"] for m in measures] == ["SIM/CAM/0001", "F01", "F02"]
    assert gcp.getall("ControlMeasure")[0]["SerialNumber"] == "SIM/CAM/0001"
    # ISIS is 1-based: the first pixel's centre is (1, 1); farside's is (0.5, 0.5)
    assert (measures[0]["Sample"], measures[0]["Line"]) == (1.0, 10.75)
    assert measures[0]["MeasureType"] == "RegisteredSubPixel"
    rejected = other.getall("ControlMeasure")
    assert rejected[0]["JigsawRejected"] is True and "JigsawRejected" not in rejected[1]


def test_pvl_round_trip(network, tmp_path):
    path = write_network(columns_of(network), tmp_path / "net.pvl")
    back = read_network(path)
    order = np.lexsort((back["frame_id"].astype(str), back["point_id"]))
    ref = columns_of(network)
    ref_order = np.lexsort((ref["frame_id"].astype(str), ref["point_id"]))
    for c in ("point_id", "frame_id", "line", "sample", "outlier", "control"):
        np.testing.assert_array_equal(back[c][order], ref[c][ref_order], err_msg=c)
    dlon = (back["lon_deg"][order] - ref["lon_deg"][ref_order] + 180) % 360 - 180
    assert np.abs(dlon).max() < 1e-9
    np.testing.assert_allclose(back["lat_deg"][order], ref["lat_deg"][ref_order], atol=1e-9)
    assert np.isnan(back["residual_after_px"]).all()  # ISIS keeps no residual magnitudes


@pytest.mark.parametrize("name", ["net.csv", "net.parquet"])
def test_table_round_trip_is_exact(network, tmp_path, name):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    path = write_network(columns_of(network), tmp_path / name)
    back = read_network(path)
    for c, ref in columns_of(network).items():
        np.testing.assert_array_equal(back[c], ref, err_msg=c)


def test_errors(network, tmp_path):
    with pytest.raises(MosaicError, match=r"\.net, \.pvl, \.csv, \.parquet"):
        write_network(columns_of(network), tmp_path / "net.txt")
    path = write_network(columns_of(network), tmp_path / "net.csv")
    with pytest.raises(MosaicError, match="exists"):
        write_network(columns_of(network), path)
    cols = columns_of(network)
    cols["line"] = cols["line"][:2]
    with pytest.raises(MosaicError, match="differ in length"):
        write_network(cols, tmp_path / "short.csv")
