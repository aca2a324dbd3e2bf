"""HapkeLROC against ISIS: the lrowacphomap functional test on a real WAC far-side cube, and
the model itself against a literal transcription of ISIS ``HapkeLROC::photometry``."""

import doctest
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline.calibration import hapke as hapke_module
from pipeline.calibration import hapke_definition as hapke_definition_module
from pipeline.calibration import hapke_map as hapke_map_module
from pipeline.calibration.hapke import LROC_HAPKE_643NM, HapkeParameters, hapke_lroc, hg_h_function
from pipeline.calibration.hapke_definition import (
    ModelDefinition,
    ParameterGroup,
    read_model_definition,
    select_parameter_groups,
)
from pipeline.calibration.hapke_map import ParameterMap, isis_valid, lrowac_correction
from pipeline.calibration.photometry import PHOTOMETRIC_MODELS, normalisation_factor
from pipeline.errors import PhotometricModelError

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "isis3"
IMAGE = "M1181493219CE.vis.odd.reduced.cub"
BACKPLANE = "back.reduced.cub"
MODEL = "hapke_full_reformatted.pvl"
PARAMS = "1x1_70NS_7b_wbhs_albflt_grid_geirist_tcorrect.reduced.cub"

# ISIS FunctionalTestLrowacphomapWithBack (isis/tests/FunctionalTestsLrowacphomap.cpp), tolerance 0.001
ISIS_AVERAGE = 58.565850201775
ISIS_STDDEV = 19.336237864721
ISIS_MEDIAN = 56.231717465174  # binned by ISIS's Histogram: compared loosely
ISIS_MINIMUM = 21.181716918945
ISIS_MAXIMUM = 160.17492675781
ISIS_SUM = 197132.65177917


def _special(bits: int) -> np.float32:
    return np.frombuffer(np.uint32(bits).tobytes(), dtype=np.float32)[0]


@pytest.fixture(scope="module")
def isis_data():
    """Pixels via GDAL's ISIS3 driver, cube labels via pvl, the model PVL via our reader.

    To switch to farside's own ISIS reader once pipeline/io reads these cubes: the three
    ``rasterio.open(...).read()`` calls and the two ``pvl.load`` calls below.
    """
    if not (REF / IMAGE).is_file():
        pytest.skip(f"ISIS reference cubes not found at {REF} (clone the project next to shared/)")
    rasterio = pytest.importorskip("rasterio")
    pvl = pytest.importorskip("pvl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the camera cubes carry no geotransform
        with rasterio.open(REF / IMAGE) as ds:
            image = ds.read(1)
        with rasterio.open(REF / BACKPLANE) as ds:
            back = ds.read()
        with rasterio.open(REF / PARAMS) as ds:
            params = ds.read()
    image_label = pvl.load(str(REF / IMAGE))["IsisCube"]
    map_label = pvl.load(str(REF / PARAMS))["IsisCube"]
    definition = read_model_definition((REF / MODEL).read_text(), source=str(REF / MODEL))
    pmap = ParameterMap.from_isis_label(
        params, map_label["Mapping"], map_label["BandBin"]["Name"], str(REF / PARAMS)
    )
    centers = [float(c) for c in image_label["BandBin"]["Center"]]
    return image, back, definition, pmap, centers


def _radians(values):
    return np.where(isis_valid(values), np.radians(values.astype(np.float64)), np.nan)


def _run(image, back, definition, pmap, centers, **kw):
    phase, emission, incidence, lat, lon = (_radians(b) for b in back)
    return lrowac_correction(image, incidence, emission, phase, lat, lon, definition, pmap, centers, 1, **kw)


def test_lrowacphomap_with_backplane_reproduces_isis_histogram(isis_data):
    image, back, definition, pmap, centers = isis_data
    # lrowacphomap from=M1181493219CE.vis.odd.reduced.cub+1: ISIS opens band 1 only, so the
    # label it sees has that band's BandBin centre alone (Cube::applyVirtualBandsToLabel)
    out = _run(image, back, definition, pmap, centers[:1], isis_compat=True)
    values = out[np.isfinite(out)].astype(np.float32).astype(np.float64)  # ISIS writes a Real cube
    assert values.size == 3366 == int(isis_valid(image).sum())
    assert values.mean() == pytest.approx(ISIS_AVERAGE, abs=1e-3)
    assert values.std(ddof=1) == pytest.approx(ISIS_STDDEV, abs=1e-3)
    assert values.min() == pytest.approx(ISIS_MINIMUM, abs=1e-3)
    assert values.max() == pytest.approx(ISIS_MAXIMUM, abs=1e-3)
    assert values.sum() == pytest.approx(ISIS_SUM, abs=1e-3)
    assert np.median(values) == pytest.approx(ISIS_MEDIAN, abs=0.05)
    # far tighter than ISIS's tolerance: the same arithmetic
    assert values.mean() == pytest.approx(ISIS_AVERAGE, rel=1e-12)
    assert values.sum() == pytest.approx(ISIS_SUM, rel=1e-12)


def test_band_matched_parameters_differ_from_isis_by_its_group_selection(isis_data):
    image, back, definition, pmap, centers = isis_data
    compat = _run(image, back, definition, pmap, centers[:1], isis_compat=True)
    matched = _run(image, back, definition, pmap, centers, isis_compat=False)
    ok = np.isfinite(compat)
    assert np.array_equal(ok, np.isfinite(matched))
    # ISIS: 689 nm parameters for the pixel, 321 nm for the reference value
    pix, ref = select_parameter_groups(definition, centers[:1], 1, isis_compat=True)
    assert (pix.band_center, ref.band_center) == (689.0, 321.0)
    assert select_parameter_groups(definition, centers, 1)[0].band_center == 415.0
    # the band-matched factor is that of a physical normalisation from (i ~ 26, e ~ 39, g ~ 60)
    # to (60, 0, 60): about Lommel-Seeliger's; ISIS's is 2.8 times smaller
    factor = (matched / image.astype(np.float64))[ok]
    inc, emi = (np.radians(back[k].astype(np.float64))[ok] for k in (2, 1))
    ls = (0.5 / 1.5) / (np.cos(inc) / (np.cos(inc) + np.cos(emi)))
    assert np.median(factor / ls) == pytest.approx(1.0, abs=0.15)
    assert np.mean(matched[ok]) / np.mean(compat[ok]) == pytest.approx(2.824, abs=0.01)


def test_special_pixels_are_masked_not_counted(isis_data):
    image, back, definition, pmap, centers = isis_data
    valid = np.flatnonzero(isis_valid(image))
    img = image.copy()
    for k, bits in enumerate((0xFF7FFFFC, 0xFF7FFFFD, 0xFF7FFFFE, 0xFF7FFFFF)):  # LRS LIS HIS HRS
        img.flat[valid[k]] = _special(bits)
    bk = back.copy()
    bk[2].flat[valid[10]] = _special(0xFF7FFFFB)  # a NULL incidence
    out = _run(img, bk, definition, pmap, centers[:1], isis_compat=True)
    assert np.isnan(out.flat[valid[[0, 1, 2, 3, 10]]]).all()
    assert np.isfinite(out).sum() == valid.size - 5


def test_parameter_map_cell_lookup_follows_isis(isis_data):
    *_, pmap, _ = isis_data
    res_deg = np.degrees(pmap.resolution_m / pmap.radius_m)
    top = np.degrees(pmap.upper_left_y_m / pmap.radius_m)
    lat = np.radians([-13.36, top - 0.49 * res_deg, 80.0, 0.0, 0.0])
    lon = np.radians([151.3, 10.0, 0.0, -10.0, 5.0])
    line, sample, inside = pmap.cell_index(lat, lon)
    # -13.36 N 151.3 E -> ISIS world (3.11, 5.23) -> cell (3, 5), zero-based (2, 4)
    assert (line[0], sample[0]) == (2, 4)
    assert (line[1], sample[1]) == (0, 0)
    assert not inside[2]  # north of 70 N: ISIS returns 0, we return NaN
    assert sample[3] == int(350.0 / res_deg + 1.0) - 1  # -10 E wraps to 350 E
    p, ok = pmap.parameters(ParameterGroup(643.0, tuple(range(45, 54))), line[:1], sample[:1])
    assert ok.all() and p.theta[0] == pytest.approx(np.radians(23.6566), abs=1e-6)


def test_fixed_lroc_parameter_set_is_the_map_average(isis_data):
    *_, pmap, _ = isis_data
    lines = pmap.data.shape[1]
    lat = (pmap.upper_left_y_m - (np.arange(lines) + 0.5) * pmap.resolution_m) / pmap.radius_m
    weight = np.cos(lat)[:, None] * np.ones(pmap.data.shape[1:])
    for k, name in enumerate(HapkeParameters.names()):
        mean = float((pmap.data[45 + k] * weight).sum() / weight.sum())
        if name == "theta":
            mean = math.radians(mean)
        assert getattr(LROC_HAPKE_643NM, name) == pytest.approx(mean, rel=2e-3, abs=1e-6), name


# ---------------------------------------------------------------- the model against ISIS's C++


def _isis_hapke_lroc(p, i, e, g):
    """Line-by-line transcription of ISIS HapkeLROC::photometry (Units = Degrees), one pixel."""
    w, b, c, bc0, hc, bs0, hs, theta, phi = (p[n] for n in HapkeParameters.names())
    k = 1.0
    if phi != 0.0:
        ck = 1.209 * phi ** (2.0 / 3.0)
        k = -math.log(1 - ck) / ck
    d2r = math.pi / 180.0
    incrad, emarad, g, theta = i * d2r, e * d2r, g * d2r, theta * d2r
    cosg, cosi, cose = math.cos(g), math.cos(incrad), math.cos(emarad)
    cost, sint = math.cos(theta), math.sin(theta)
    cott = cost / max(1e-10, sint)
    cot2t, tant = cott * cott, sint / cost
    chi = 1.0 / math.sqrt(1.0 + math.pi * tant * tant)
    if i >= 90.0:
        return 0.0
    b2 = b * b
    pg = (1 + c) * 0.5 * (1 - b2) / (1 - 2 * b * cosg + b2) ** 1.5 + (1 - c) * 0.5 * (1 - b2) / (
        1 + 2 * b * cosg + b2
    ) ** 1.5
    tang2 = math.tan(g * 0.5)
    bsg = 0.0 if (hs == 0.0 or g == math.pi) else 1.0 / (1.0 + tang2 / hs)
    bcg = 0.0
    if g == 0.0:
        bcg = 1.0
    elif g != math.pi and hc != 0.0:
        t = tang2 / hc
        bcg = (1 + (1 - math.exp(-t)) / t) / (2 * (1 + t) * (1 + t))
    r0 = (1 - math.sqrt(1 - w)) / (1 + math.sqrt(1 - w))

    def h(x):
        if x == 0.0:
            return 1.0
        x = abs(x)
        return 1.0 / (1.0 - w * x * (r0 + (1.0 - 2.0 * r0 * x) * 0.5 * math.log((1.0 + x) / x)))

    if theta <= 0.0:
        mie = h(cosi / k) * h(cose / k) - 1.0
        return k * (w / 4) * (cosi / (cosi + cose)) * (pg * (1 + bs0 * bsg) + mie) * (1 + bc0 * bcg)
    sini = math.sin(incrad)
    coti = cosi / max(1e-10, sini)
    e1i = math.exp(min(-2 * cott * coti / math.pi, 23.0))
    e2i = math.exp(min(-cot2t * coti * coti / math.pi, 23.0))
    etai = chi * (cosi + sini * tant * e2i / (2 - e1i))
    sine = math.sin(emarad)
    sinei = sine * sini
    if sinei == 0.0:
        cospsi, psi = 1.0, 0.0
    else:
        cospsi = (cosg - cose * cosi) / sinei
        psi = math.pi if cospsi <= -1 else (0.0 if cospsi > 1 else math.acos(cospsi))
    half = psi * 0.5
    fpsi = 0.0 if half >= math.pi / 2 else math.exp(min(-2 * math.tan(half), 23.0))
    cote = cose / max(1e-10, sine)
    e1e = math.exp(min(-2 * cott * cote / math.pi, 23.0))
    e2e = math.exp(min(-cot2t * cote * cote / math.pi, 23.0))
    etae = chi * (cose + sine * tant * e2e / (2 - e1e))
    s2 = math.sin(half) ** 2
    pp = psi / math.pi
    if i <= e:
        ec = 2 - e1e - pp * e1i
        mu0e = chi * (cosi + sini * tant * (cospsi * e2e + s2 * e2i) / ec)
        mue = chi * (cose + sine * tant * (e2e - s2 * e2i) / ec)
        q = cosi / etai
    else:
        ec = 2 - e1i - pp * e1e
        mu0e = chi * (cosi + sini * tant * (e2i - s2 * e2e) / ec)
        mue = chi * (cose + sine * tant * (cospsi * e2i + s2 * e2e) / ec)
        q = cose / etae
    mie = h(mu0e / k) * h(mue / k) - 1.0
    s = (mue * cosi * chi) / (etae * etai * (1 - fpsi + fpsi * chi * q))
    return k * (w / 4) * (mu0e / (mu0e + mue)) * (pg * (1 + bs0 * bsg) + mie) * (1 + bc0 * bcg) * s


def test_vectorised_model_matches_isis_transcription_on_every_branch(rng):
    n = 400
    inc = rng.uniform(0, 95, n)
    emi = rng.uniform(0, 85, n)
    pha = np.abs(inc - emi) + rng.uniform(0, 1, n) * (np.minimum(inc + emi, 180) - np.abs(inc - emi))
    # edge cases: nadir view, opposition, the i == e branch boundary, the horizon, i = 90
    inc[:6], emi[:6], pha[:6] = [60, 0, 30, 45, 89.9, 90], [0, 0, 30, 45, 0, 10], [60, 0, 0, 90, 89.9, 80]
    params = {
        "w": rng.uniform(0.05, 0.9, n),
        "b": rng.uniform(0.0, 0.6, n),
        "c": rng.uniform(-0.5, 1.0, n),
        "bc0": rng.choice([0.0, 0.8], n),
        "hc": rng.choice([0.0, 0.05, 1.0], n),
        "bs0": rng.uniform(0, 2.5, n),
        "hs": rng.choice([0.0, 0.06], n),
        "theta": rng.choice([0.0, -1.0, 5.0, 23.6566, 40.0], n),
        "phi": rng.choice([0.0, 0.3, 0.6], n),
    }
    vec = hapke_lroc(
        np.radians(inc),
        np.radians(emi),
        np.radians(pha),
        HapkeParameters(**{k: (np.radians(v) if k == "theta" else v) for k, v in params.items()}),
    )
    ref = np.array(
        [
            _isis_hapke_lroc({k: float(v[j]) for k, v in params.items()}, inc[j], emi[j], pha[j])
            for j in range(n)
        ]
    )
    assert np.allclose(vec, ref, rtol=1e-12, atol=1e-15)
    assert vec[5] == 0.0 and (vec[inc < 90] > 0).all()


def test_smooth_isotropic_hapke_is_the_classic_formula():
    # theta = 0, isotropic phase function (b = 0), no opposition surge, K = 1:
    # r = w/4 mu0/(mu0 + mu) H(mu0) H(mu)
    i, e, g = np.radians([35.0, 50.0, 70.0]), np.radians([10.0, 30.0, 20.0]), np.radians([40.0, 60.0, 55.0])
    p = HapkeParameters(w=0.4, b=0.0, c=0.0)
    mu0, mu = np.cos(i), np.cos(e)
    expected = 0.1 * mu0 / (mu0 + mu) * hg_h_function(mu0, 0.4) * hg_h_function(mu, 0.4)
    assert hapke_lroc(i, e, g, p) == pytest.approx(expected, rel=1e-14)
    # low albedo: Lommel-Seeliger times w/4
    assert hapke_lroc(i, e, g, p.replace(w=1e-6)) == pytest.approx(0.25e-6 * mu0 / (mu0 + mu), rel=1e-6)
    # per-pixel parameter arrays broadcast with the angles
    many = hapke_lroc(i, e, g, p.replace(w=np.array([0.4, 0.4, 1e-6])))
    assert many[:2] == pytest.approx(expected[:2], rel=1e-14)


def test_hapke_is_in_the_registry_with_the_common_call():
    model = PHOTOMETRIC_MODELS["hapke"]
    inc, emi, pha = np.full((2, 3), 0.5), np.zeros((2, 3)), np.full((2, 3), 0.5)
    assert model(inc, emi, pha) == pytest.approx(hapke_lroc(inc, emi, pha, LROC_HAPKE_643NM))
    assert model(np.radians(95.0), 0.0, np.radians(95.0)) == 0.0
    f = normalisation_factor(
        np.array([np.radians(30.0)]), np.array([0.0]), np.array([np.radians(30.0)]), model
    )
    assert f[0] == pytest.approx(1.0)
    smooth = model.with_parameters(params=LROC_HAPKE_643NM.replace(theta=0.0))
    assert smooth(np.radians(70.0), 0.0, np.radians(70.0)) > model(np.radians(70.0), 0.0, np.radians(70.0))
    with pytest.raises(TypeError, match="no parameter"):
        model.with_parameters(weight=0.5)


def test_model_definition_reader_and_its_errors(isis_data):
    definition = isis_data[2]
    assert definition.degrees and definition.hfunc == "HG"
    assert definition.reference == pytest.approx(tuple(np.radians([60.0, 0.0, 60.0])))
    assert [g.band_center for g in definition.groups] == [321, 360, 415, 566, 604, 643, 689]
    assert definition.groups[2].map_bands == tuple(range(18, 27))
    text = (REF / MODEL).read_text()
    with pytest.raises(PhotometricModelError, match="hapke.pvl: algorithm 'HapkeLRO' is not supported"):
        read_model_definition(text.replace("HapkeLROC", "HapkeLRO"), source="hapke.pvl")
    with pytest.raises(PhotometricModelError, match="Hfunc"):
        read_model_definition(text.replace("Hfunc  = HG", "Hfunc = CH"), source="hapke.pvl")
    with pytest.raises(PhotometricModelError, match="not closed"):
        read_model_definition(text.replace("EndObject", ""), source="hapke.pvl")
    with pytest.raises(PhotometricModelError, match="BandBinCenter = 999"):
        select_parameter_groups(definition, [999.0], 1)


def test_select_parameter_groups_isis_rule_without_data():
    groups = tuple(ParameterGroup(c, (k,)) for k, c in enumerate((321.0, 415.0, 566.0, 689.0)))
    d = ModelDefinition((1.0, 0.0, 1.0), True, groups)
    # all five VIS centres present: 415 -> band 1 (and 321, unmatched, too), 566 -> band 2
    vis = [415.0, 566.0, 604.0, 643.0, 689.0]
    assert [g.band_center for g in select_parameter_groups(d, vis, 1, isis_compat=True)] == [415.0, 321.0]
    assert [g.band_center for g in select_parameter_groups(d, vis, 2, isis_compat=True)] == [566.0, 566.0]
    assert [g.band_center for g in select_parameter_groups(d, vis, 5)] == [689.0, 689.0]


def test_docstring_examples_run():
    for module in (hapke_module, hapke_definition_module, hapke_map_module):
        failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried > 0 and failed == 0, module.__name__
