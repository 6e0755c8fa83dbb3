"""Known-answer and property tests for the Theano random-stream engines.

The modules are loaded by file path so these tests do not depend on the rest of
``theanolite`` importing cleanly.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, rel: str):
    spec = importlib.util.spec_from_file_location(name, _ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mrg = _load("_mrg_engine_under_test", "theanolite/sandbox/mrg_engine.py")
reng = _load("_random_engine_under_test", "theanolite/tensor/random_engine.py")

# Theano's theano/sandbox/samples_MRG31k3p_12_7_5.txt: L'Ecuyer's Java MRG31k3p with
# main seed [12345]*6, 12 streams x 7 substreams x 5 draws (stream-major order).
JAVA_SAMPLES = np.array([float(v) for v in """
    0.7353244530968368 0.6142074400559068 0.11007806099951267 0.6487741703167558 0.36619443260133266
    0.2585685825906694 0.9489980279468 0.4309556516818702 0.12257590936496854 0.9760319022461772
    0.6940806899219751 0.18046841165050864 0.003993193618953228 0.5351603352464736 0.02472442388534546
    0.7705746139399707 0.8138928869739175 0.9650539481081069 0.24507411010563374 0.35767574002966285
    0.4939101580530405 0.9027785388752818 0.27498403564095497 0.03848231676965952 0.3081609820947051
    0.9062023567967117 0.009030417073518038 0.7953705741092563 0.5061718439683318 0.5975547162815928
    0.5435514179989696 0.330895590595901 0.49919482320547104 0.9409166998229921 0.8276205519214272
    0.5180770065635443 0.2319392478093505 0.36197659047320485 0.11120751267299056 0.5018561617471278
    0.47852187464013696 0.7188052111305296 0.3030327311716974 0.6756376498378813 0.03624899685382843
    0.34987151669338346 0.031225718092173338 0.06772322440519929 0.06820952938869596 0.9987128847278655
    0.08330700965598226 0.9731874465942383 0.6345655219629407 0.7169904578477144 0.5793502484448254
    0.7396790678612888 0.9926023166626692 0.7522463691420853 0.6768838302232325 0.3253784184344113
    0.05375300580635667 0.4912636987864971 0.6485021142289042 0.3043024237267673 0.24868384934961796
    0.8166692252270877 0.5274319797754288 0.31434731651097536 0.9961257497780025 0.3549888739362359
    0.8423425843939185 0.21591948671266437 0.8698299624957144 0.17033040337264538 0.22816143138334155
    0.11795765580609441 0.7024209997616708 0.15607220400124788 0.5493582566268742 0.5827712984755635
    0.8592293248511851 0.785309090744704 0.6115233600139618 0.019046304281800985 0.2573754615150392
    0.03130705002695322 0.6572857238352299 0.2033171127550304 0.5058645992539823 0.15793190989643335
    0.6273676953278482 0.7285307059064507 0.265245848800987 0.6073522809892893 0.3896624594926834
    0.27189663611352444 0.705508322454989 0.12823439668864012 0.39648046158254147 0.6584051586687565
    0.07818163838237524 0.33628708589822054 0.20613654889166355 0.4277639244683087 0.5401185592636466
    0.07513022050261497 0.4920963351614773 0.18214095244184136 0.3235122123733163 0.29958881670609117
    0.7304665613919497 0.05146520072594285 0.2471711952239275 0.8797005712985992 0.5029069227166474
    0.526974250562489 0.15968210343271494 0.4696163134649396 0.17607332626357675 0.362843859475106
    0.7626461815088987 0.960180682130158 0.2536660563200712 0.710880630183965 0.28728525526821613
    0.78940424695611 0.5242114691063762 0.8314367309212685 0.5898511232808232 0.015212591737508774
    0.4944482510909438 0.06396882887929678 0.519745257217437 0.3558214954100549 0.04566589882597327
    0.8368005948141217 0.979805170558393 0.7622401369735599 0.2578657674603164 0.5378834479488432
    0.9926298237405717 0.4013678622432053 0.510077933780849 0.018817965406924486 0.21481098141521215
    0.5357040031813085 0.8512061606161296 0.009026535786688328 0.27302876580506563 0.21162108704447746
    0.5273029855452478 0.1086404686793685 0.14079083362594247 0.14331109775230289 0.8190496540628374
    0.3947252375073731 0.28109811525791883 0.4066850380040705 0.9154577874578536 0.8929708409123123
    0.13500721845775843 0.6328344400972128 0.5668322211131454 0.5448646773584187 0.5418433886952698
    0.1141617177054286 0.15885689994320273 0.3867143443785608 0.5574855520389974 0.9173167692497373
    0.22908265376463532 0.2047420055605471 0.05979115655645728 0.44121386017650366 0.9507057839073241
    0.15352962678298354 0.23290937673300505 0.46427791472524405 8.519855327904224E-4 0.7947354763746262
    0.6385304923169315 0.8696001935750246 0.6022149357013404 0.02299323584884405 0.5036068987101316
    0.7541037476621568 0.9995524706318974 0.5888469088822603 0.3318097642622888 0.32492663664743304
    0.6643895329907537 0.3656829949468374 0.4912424306385219 0.1900841724127531 0.5945985522121191
    0.5709856003522873 0.35780346347019076 0.388774358201772 0.9446004652418196 0.14594348100945354
    0.6250799335539341 0.5504232128150761 0.16380576323717833 0.7428167965263128 0.5522975320927799
    0.655389194842428 0.47579632699489594 0.29743909696117043 0.6319712968543172 0.8178138644434512
    0.2785301594994962 0.46813122322782874 0.2898342702537775 0.3287009159103036 0.12909299414604902
    0.5859099281951785 0.1891166502609849 0.14497734932228923 0.5543341124430299 0.11846801871433854
    0.8499364419840276 0.6603211951442063 0.35630465345457196 0.9680569358170033 0.6639338186942041
    0.24408268369734287 0.030771974939852953 0.17226932244375348 0.7909302446059883 0.4327161009423435
    0.6732332338578999 0.0849734228104353 0.7278832173906267 0.5536605608649552 0.7091806619428098
    0.01754110073670745 0.8406045655719936 0.4815619965083897 0.0535086034797132 0.9874794147908688
    0.07097038673236966 0.023544831201434135 0.42413365049287677 0.2970325672067702 0.48028060607612133
    0.1990663455799222 0.6099434774369001 0.5050413520075381 0.7814605687744915 0.2650358658283949
    0.5148864723742008 0.7807142282836139 0.0976667134091258 0.1516015767119825 0.6566055505536497
    0.3946392172947526 0.8052488421089947 0.2964451564475894 0.07394864456728101 0.6961450576782227
    0.01576960226520896 0.3434433783404529 0.08799878368154168 0.785557022318244 0.7494717631489038
    0.45548726338893175 0.7672475459985435 0.5134695749729872 0.7000438082031906 0.49818582693114877
    0.4293400440365076 0.9961911663413048 0.016769078094512224 0.013044610153883696 0.8661804771982133
    0.7819683295674622 0.33438047766685486 0.966121535282582 0.7259743176400661 0.9887824659235775
    0.9494950002990663 0.037431647535413504 0.8268285538069904 0.7355263698846102 0.3120658891275525
    0.3588241692632437 0.471130283549428 0.7047113911248744 0.980073744431138 0.6762627908028662
    0.869295812677592 0.9070576094090939 0.7852784115821123 0.16342713963240385 0.06330870278179646
    0.6165989111177623 0.342802997212857 0.8414176292717457 0.6921333004720509 0.2594374935142696
    0.4386491202749312 0.555369642097503 0.3660965468734503 0.6484139142557979 0.9005299550481141
    0.25335891311988235 0.23852926725521684 0.9044205779209733 0.8694673446007073 0.46783560374751687
    0.34727911837399006 0.19556640228256583 0.8798208390362561 0.3131108647212386 0.6312824171036482
    0.5722001581452787 0.9441223978064954 0.7707183314487338 0.17464511329308152 0.08897313429042697
    0.5044040409848094 0.5735817537643015 0.4467783076688647 0.19051036844030023 0.4578995378687978
    0.6395204453729093 0.460110604763031 0.576092894654721 0.7038368303328753 0.5555814192630351
    0.4171535111963749 0.8905360852368176 0.12811446748673916 0.6814800254069269 0.8502416326664388
    0.12028768053278327 0.16715052351355553 0.3563938206061721 0.049810963682830334 0.27328392397612333
    0.2407418810762465 0.6631906591355801 0.674483266659081 0.10489491606131196 0.04698043642565608
    0.0812066881917417 0.312124056275934 0.6798701109364629 0.7286937129683793 0.9784366562962532
    0.5650205011479557 0.833059043623507 0.8976074242964387 0.9441233519464731 0.6146679543890059
    0.9019614770077169 0.5529476394876838 0.7665416682139039 0.39598167687654495 0.26307358546182513
    0.14862705068662763 0.9521124185994267 0.17644333699718118 0.7684473628178239 0.4274347145110369
    0.6102834036573768 0.9328651092946529 0.058630190789699554 0.04729347629472613 0.9597438890486956
    0.6761234584264457 0.21832499839365482 0.20707347383722663 0.7274158899672329 0.9477886455133557
    0.7821800266392529 0.07305240212008357 0.40399201214313507 0.22684293938800693 0.053185423370450735
    0.330069282092154 0.6862794999033213 0.7821815954521298 0.22617859859019518 0.8118352359160781
    0.015444065444171429 0.6732339109294116 0.9980663135647774 0.8833195753395557 0.21191661106422544
    0.32638366147875786 0.5747208022512496 0.07515769777819514 0.02952938713133335 0.4980746121145785
    0.8762881984002888 0.17386484891176224 0.10696181375533342 0.5474299816414714 0.016154434997588396
    0.6960771018639207 0.47133891424164176 0.9015861176885664 0.782880718819797 0.6602211343124509
    0.6578835439868271 0.6049443730153143 0.17169494135305285 0.9915955001488328 0.10519243823364377
    0.37815978936851025 0.20879409136250615 0.45666090911254287 0.6456936108879745 0.684759714640677
    0.8762755445204675 0.8020628895610571 0.1663151141256094 0.31246642768383026 0.18852565623819828
""".split()])


def _java_layout_draws(get_stream_rstates, dtype="float64", impl="c"):
    """Replays Theano's test_consistency_randomstreams: one variable per stream,
    7 substreams drawn in parallel, 5 calls each."""
    out = []
    for i in range(12):
        rs = get_stream_rstates(i)
        calls = []
        for _ in range(5):
            rs, s = mrg.mrg_uniform(rs, (7,), dtype, impl)
            calls.append(s)
        out.append(np.array(calls).T.ravel())
    return np.array(out).ravel()


# ----------------------------------------------------------------- MRG: known answers
def test_java_reference_through_streams_state():
    st = mrg.MRGStreamsState()  # default seed 12345
    got = _java_layout_draws(lambda i: st.new_variable_rstates(7))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, JAVA_SAMPLES)  # bit-exact


def test_java_reference_serial_with_explicit_jumps():
    samples, stream = [], mrg.mrg_seed_to_rstate(12345)
    for _ in range(12):
        sub = stream.copy()
        for _ in range(7):
            rs = sub[None, :]
            for _ in range(5):
                rs, s = mrg.mrg_uniform(rs, (1,), "float64")
                samples.append(s[0])
            sub = mrg.ff_2p72(sub)
        stream = mrg.ff_2p134(stream)
    np.testing.assert_array_equal(np.array(samples), JAVA_SAMPLES)


def test_java_reference_float32_and_float16_formation():
    k = JAVA_SAMPLES * 2.0**31  # the generator's integer output, exactly
    assert np.array_equal(k, np.round(k)) and k.min() >= 1 and k.max() <= mrg.M1
    st = mrg.MRGStreamsState(12345)
    c32 = _java_layout_draws(lambda i: st.new_variable_rstates(7), "float32", "c")
    np.testing.assert_array_equal(c32, k.astype(np.float32) * np.float32(4.6566126e-10))
    st = mrg.MRGStreamsState(12345)
    py32 = _java_layout_draws(lambda i: st.new_variable_rstates(7), "float32", "py")
    np.testing.assert_array_equal(py32, (k * float(np.float32(4.6566126e-10))).astype(np.float32))
    for got in (c32, py32):  # Theano's own check for float32 is allclose
        assert got.dtype == np.float32 and np.allclose(got, JAVA_SAMPLES) and got.max() < 1
    st = mrg.MRGStreamsState(12345)
    f16 = _java_layout_draws(lambda i: st.new_variable_rstates(7), "float16")
    expect = (((k.astype(np.int64) & 0x7FFF) + 1) * float(np.float16(3.0458e-05)))
    np.testing.assert_array_equal(f16, expect.astype(np.float16))
    assert 0 < f16.min() and f16.max() < 1


def test_jump_matrices_are_powers_of_the_one_step_matrices():
    def matpow(a, e, m):
        res = [[int(i == j) for j in range(3)] for i in range(3)]
        base = [[int(v) for v in row] for row in a]
        mul = lambda x, y: [[sum(x[i][t] * y[t][j] for t in range(3)) % m
                             for j in range(3)] for i in range(3)]
        while e:
            if e & 1:
                res = mul(res, base)
            base, e = mul(base, base), e >> 1
        return np.array(res, dtype=np.int64)

    np.testing.assert_array_equal(matpow(mrg.A1P0, 2**72, mrg.M1), mrg.A1P72)
    np.testing.assert_array_equal(matpow(mrg.A2P0, 2**72, mrg.M2), mrg.A2P72)
    np.testing.assert_array_equal(matpow(mrg.A1P0, 2**134, mrg.M1), mrg.A1P134)
    np.testing.assert_array_equal(matpow(mrg.A2P0, 2**134, mrg.M2), mrg.A2P134)


def test_bit_tricks_match_textbook_recurrence():
    rng = np.random.default_rng(0)
    n = 5000
    st = np.concatenate([rng.integers(0, mrg.M1, (n, 3)), rng.integers(0, mrg.M2, (n, 3))], 1)
    st[:4, :3] = mrg.M1 - 1  # extremes exercise the int32 overflow paths
    st[:4, 3:] = mrg.M2 - 1
    new, _ = mrg.mrg_uniform(st.astype(np.int32), (n,), "float64")
    s = st.astype(object)
    y1 = (2**22 * s[:, 1] + 129 * s[:, 2]) % mrg.M1  # x1_n = 2^22 x1_{n-2} + (2^7+1) x1_{n-3}
    y2 = (2**15 * s[:, 3] + 32769 * s[:, 5]) % mrg.M2  # x2_n = 2^15 x2_{n-1} + (2^15+1) x2_{n-3}
    expect = np.stack([y1, s[:, 0], s[:, 1], y2, s[:, 3], s[:, 4]], 1).astype(np.int64)
    np.testing.assert_array_equal(new, expect)


# ----------------------------------------------------------------- MRG: substreams
@pytest.mark.parametrize("seed", [12345, 234, (1, 2, 3, 4, 5, 6), -7])
def test_substream_rstates_equal_repeated_ff_2p72(seed):
    base = mrg.mrg_seed_to_rstate(seed)
    fast = mrg.get_substream_rstates(base, 777)
    seq = [base]
    for _ in range(776):
        seq.append(mrg.ff_2p72(seq[-1]))
    np.testing.assert_array_equal(fast, np.array(seq))
    assert fast.dtype == np.int32 and fast.shape == (777, 6)


def test_inc_rstate_bookkeeping_and_seed_restart():
    st = mrg.MRGStreamsState(234)
    r0 = st.new_variable_rstates(5)
    r1 = st.new_variable_rstates(3)
    np.testing.assert_array_equal(r0[0], [234] * 6)
    np.testing.assert_array_equal(r1[0], mrg.ff_2p134(mrg.mrg_seed_to_rstate(234)))
    np.testing.assert_array_equal(st.rstate, mrg.ff_2p134(mrg.ff_2p134(r0[0])))
    _, first = mrg.mrg_uniform(r1, (3, 2), "float64")
    again = st.seed()  # default: the constructor seed -> same states, creation order
    assert [a.shape for a in again] == [(5, 6), (3, 6)]
    np.testing.assert_array_equal(again[0], r0)
    np.testing.assert_array_equal(again[1], r1)
    np.testing.assert_array_equal(mrg.mrg_uniform(again[1], (3, 2), "float64")[1], first)
    other = st.seed(23)
    assert not np.array_equal(other[1], r1)
    np.testing.assert_array_equal(other[0][0], [23] * 6)
    assert st.stream_counts == [5, 3]


def test_element_i_comes_from_stream_i_mod_n():
    rs = mrg.get_substream_rstates(mrg.mrg_seed_to_rstate(99), 4)
    new, s = mrg.mrg_uniform(rs, (10,), "float64")
    for j in range(4):  # each stream alone, drawn serially
        serial = mrg.mrg_uniform(rs[j:j + 1], (len(range(j, 10, 4)),), "float64")
        np.testing.assert_array_equal(s[j::4], serial[1])
        np.testing.assert_array_equal(new[j], serial[0][0])
    # streams 2, 3 were used twice, 0, 1 three times: only used streams advance
    _, again = mrg.mrg_uniform(rs, (2, 5), "float64")
    np.testing.assert_array_equal(again.ravel(), s)
    assert np.array_equal(rs, mrg.get_substream_rstates(mrg.mrg_seed_to_rstate(99), 4))


def test_substreams_are_independent():
    rs = mrg.get_substream_rstates(mrg.mrg_seed_to_rstate(4321), 64)
    _, s = mrg.mrg_uniform(rs, (3000, 64), "float64")  # column j = stream j
    corr = np.corrcoef(s.T)
    off = corr[~np.eye(64, dtype=bool)]
    assert np.abs(off).max() < 0.1  # ~5.5 sigma for 3000 draws
    for j in range(1, 64):  # no stream repeats another (shifted) one
        assert not np.isin(s[:50, 0], s[:, j]).all()
    lagged = np.corrcoef(s[1:, 0], s[:-1, 1])[0, 1]
    assert abs(lagged) < 0.1
    # drawing from a subset of streams leaves the others' sequences intact
    _, part = mrg.mrg_uniform(rs[10:11], (3000,), "float64")
    np.testing.assert_array_equal(part, s[:, 10])


def test_guess_n_streams_and_methods():
    assert mrg.guess_n_streams((10, 20)) == 33
    assert mrg.guess_n_streams((3,)) == 3 and mrg.guess_n_streams(()) == 1
    assert mrg.guess_n_streams((7,)) == 1 and mrg.guess_n_streams([4, 3]) == 2
    assert mrg.guess_n_streams((1000, 1000)) == 60 * 256
    assert mrg.guess_n_streams((np.int64(10),)) == 60 * 256  # Theano: not an int
    with pytest.warns(UserWarning):
        assert mrg.guess_n_streams("symbolic", warn=True) == 60 * 256
    assert mrg.n_streams_for("uniform", (12,)) == 2
    assert mrg.n_streams_for("uniform", (12,), size_is_symbolic=True) == 15360
    assert mrg.n_streams_for("normal", (12,)) == 15360
    assert mrg.n_streams_for("choice", None, nstreams=7) == 7


# ----------------------------------------------------------------- MRG: seeds
@pytest.mark.parametrize("seed, message", [
    (0, "seed should not be 0"),
    (mrg.M2, "seed should be less than 2147462579"),
    ((0, 0, 0, 1, 1, 1), "The first 3 values of seed should not be all 0"),
    ((1, 1, 1, 0, 0, 0), "The last 3 values of seed should not be all 0"),
    ((mrg.M1, 1, 1, 1, 1, 1), "The first 3 values of seed should be less than 2147483647"),
    ((1, 1, 1, 1, mrg.M2, 1), "The last 3 values of seed should be less than 2147462579"),
    ((1, 2, 3), "seed should be 1 integer or 6 integers"),
    ("abcdef", "seed should be 1 integer or 6 integers"),
    (2**40, "does not fit in int32"),
])
def test_invalid_seeds_raise_value_error(seed, message):
    with pytest.raises(ValueError, match=message):
        mrg.mrg_seed_to_rstate(seed)
    with pytest.raises(ValueError):
        mrg.MRGStreamsState(seed)


def test_valid_seeds():
    np.testing.assert_array_equal(mrg.mrg_seed_to_rstate(), [12345] * 6)
    r = mrg.mrg_seed_to_rstate([1, 2, 3, 4, 5, 6])
    assert r.dtype == np.int32 and r.tolist() == [1, 2, 3, 4, 5, 6]
    assert mrg.mrg_seed_to_rstate(np.int64(5)).tolist() == [5] * 6
    assert mrg.mrg_seed_to_rstate(-3).tolist() == [-3] * 6  # Theano accepts negatives
    assert issubclass(mrg.SeedError, TypeError)  # Theano raised TypeError here


# ----------------------------------------------------------------- MRG: distributions
def _states(n, seed=234):
    return mrg.get_substream_rstates(mrg.mrg_seed_to_rstate(seed), n)


def test_uniform_low_high_order_of_operations():
    rs = _states(5)
    _, u = mrg.mrg_uniform(rs, (4, 5), "float32")
    new, r = mrg.uniform(rs, (4, 5), low=-1.5, high=0.7, dtype="float32")
    lo, hi = np.float32(-1.5), np.float32(0.7)
    np.testing.assert_array_equal(r, u * (hi - lo) + lo)
    assert r.dtype == np.float32 and r.min() > -1.5 and r.max() < 0.7
    assert mrg.uniform(rs, (2,), low=0.1)[1].dtype == np.float64
    assert mrg.uniform(rs, (2,), floatX="float32")[1].dtype == np.float32
    with pytest.raises(ValueError, match="<= 0"):
        mrg.uniform(rs, (0, 3))


def test_normal_box_muller_pairing_even_and_odd():
    rs = _states(15360)
    _, u = mrg.mrg_uniform(rs, (12,), "float64")
    r = np.sqrt(-2.0 * np.log(u[:6]))
    theta = 2.0 * np.pi * u[6:]
    z = np.concatenate([r * np.cos(theta), r * np.sin(theta)])
    _, even = mrg.normal(rs, (3, 4), avg=1.0, std=2.0)
    np.testing.assert_array_equal(even, (z * 2.0 + 1.0).reshape(3, 4))
    _, odd = mrg.normal(rs, (11,))  # 12 uniforms, last sine dropped
    np.testing.assert_array_equal(odd, z[:11])
    _, scalar = mrg.normal(rs, ())
    _, u2 = mrg.mrg_uniform(rs, (2,), "float64")
    assert scalar.shape == () and scalar == np.sqrt(-2 * np.log(u2[0])) * np.cos(2 * np.pi * u2[1])
    _, five = mrg.normal(rs, 5)  # int size; 6 uniforms, same pairing as size 6
    _, six = mrg.normal(rs, (6,))
    np.testing.assert_array_equal(five, six[:5])


def test_normal_float32_math_modes():
    rs = _states(64)
    _, a = mrg.normal(rs, (1001,), dtype="float32")
    _, b = mrg.normal(rs, (1001,), dtype="float32", math_impl="libm")
    assert a.dtype == b.dtype == np.float32
    ulps = np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))
    assert ulps.max() <= 4 and (ulps == 0).mean() > 0.9
    _, c = mrg.normal(rs, (301,), math_impl="libm")
    np.testing.assert_allclose(c, mrg.normal(rs, (301,))[1], rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError):
        mrg.normal(rs, (3,), dtype="int32")


def test_binomial_is_uniform_threshold():
    rs = _states(10)
    _, u = mrg.mrg_uniform(rs, (6, 10), "float64")
    _, b = mrg.binomial(rs, (6, 10), p=0.3)
    np.testing.assert_array_equal(b, (u < 0.3).astype(np.int64))
    _, u32 = mrg.mrg_uniform(rs, (6, 10), "float32")
    _, b32 = mrg.binomial(rs, (6, 10), p=0.3, floatX="float32", dtype="int8")
    np.testing.assert_array_equal(b32, (u32 < np.float32(0.3)).astype(np.int8))
    with pytest.raises(NotImplementedError):
        mrg.binomial(rs, (2,), n=2)


def test_multinomial_and_choice_from_uniform_handcrafted():
    pv = np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]])
    # unis[c * rows + r]; the test is strict (cumsum > u): u=0.2 on row 0 skips
    # index 0 (cumsum 0.2), u=1.0 on row 1 finds no outcome and adds nothing.
    counts = mrg.multinomial_from_uniform(pv, np.array([0.1, 0.6, 0.2, 1.0]), n=2)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0]])
    # pick index 0 (0.1 < 0.2); renormalised row [0, .375, .625]: 0.1 -> index 1
    np.testing.assert_array_equal(mrg.choice_from_uniform(pv[:1], np.array([0.1, 0.1]), 2), [[0, 1]])
    with pytest.raises(ValueError):
        mrg.choice_from_uniform(pv, np.zeros(8), 4)


def test_multinomial_and_choice_through_streams():
    rs = _states(8)
    pv = np.random.default_rng(1).uniform(size=(8, 5))
    pv /= pv.sum(1, keepdims=True)
    new, m = mrg.multinomial(rs, pv, n=3)
    _, u = mrg.mrg_uniform(rs, (24,), "float64")
    np.testing.assert_array_equal(m, mrg.multinomial_from_uniform(pv, u, 3))
    assert m.dtype == np.int64 and (m.sum(1) == 3).all()
    _, c = mrg.choice(rs, pv.astype(np.float32), size=4)
    assert c.shape == (8, 4) and all(len(set(row)) == 4 for row in c.tolist())
    with pytest.raises(NotImplementedError):
        mrg.choice(rs, pv, replace=True)


def test_statistical_moments_large_samples():
    rs = _states(15360, seed=777)
    _, u = mrg.mrg_uniform(rs, (1000, 1000), "float64")
    assert abs(u.mean() - 0.5) < 2e-3 and abs(u.var() - 1 / 12) < 1e-3
    assert 0 < u.min() and u.max() < 1
    _, z = mrg.normal(rs, (999, 501), avg=-5.0, std=2.0)
    zs = (z - z.mean()) / z.std()
    assert abs(z.mean() + 5) < 0.02 and abs(z.std() - 2) < 0.01
    assert abs((zs**3).mean()) < 0.02 and abs((zs**4).mean() - 3) < 0.05
    _, b = mrg.binomial(rs, (500, 500), p=0.1)
    assert abs(b.mean() - 0.1) < 3e-3
    pv = np.tile([[0.1, 0.2, 0.7]], (20000, 1))
    _, m = mrg.multinomial(rs, pv)
    np.testing.assert_allclose(m.mean(0), [0.1, 0.2, 0.7], atol=0.01)


def test_mrg_uniform_contract():
    rs = _states(3)
    keep = rs.copy()
    mrg.mrg_uniform(rs, (5,), "float64")
    np.testing.assert_array_equal(rs, keep)  # input not mutated
    with pytest.raises(ValueError, match="2\\*\\*31"):
        mrg.mrg_uniform(rs, (2**16, 2**15), "float64")
    with pytest.raises(ValueError, match="6 columns"):
        mrg.mrg_uniform(np.zeros((2, 5), np.int32), (3,), "float64")


# ----------------------------------------------------------------- shared RandomStreams
def _same_state(a: np.random.RandomState, b: np.random.RandomState) -> bool:
    sa, sb = a.get_state(), b.get_state()
    return sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:]


def test_randomstreams_seed_derivation_matches_numpy():
    rs = reng.RandomStreams(234)
    s1, s2 = rs.gen_state(), rs.gen_state()
    seedgen = np.random.RandomState(234)
    assert _same_state(s1, np.random.RandomState(int(seedgen.randint(2**30))))
    assert _same_state(s2, np.random.RandomState(int(seedgen.randint(2**30))))
    # Theano's test_basics: first variable draws what numpy draws from the derived seed
    val = reng.uniform(reng.RandomStreams(234).gen_state(), (2, 2))
    rng = np.random.RandomState(int(np.random.RandomState(234).randint(2**30)))
    np.testing.assert_array_equal(val, rng.uniform(size=(2, 2)))


def test_randomstreams_reseed_restarts_in_creation_order():
    rs = reng.RandomStreams(234)
    a, b = rs.gen_state(), rs.gen_state()
    first = (reng.uniform(a, (3,)), reng.normal(b, (3,)))
    new = rs.seed()  # default seed -> identical states, creation order
    assert rs.states == new and len(new) == 2
    np.testing.assert_array_equal(reng.uniform(new[0], (3,)), first[0])
    np.testing.assert_array_equal(reng.normal(new[1], (3,)), first[1])
    new = rs.seed(99)
    seedgen = np.random.RandomState(99)
    for st in new:
        assert _same_state(st, np.random.RandomState(int(seedgen.randint(2**30))))
    # seed() leaves gen_seedgen alone: the third variable continues its sequence
    gen = np.random.RandomState(234)
    gen.randint(2**30), gen.randint(2**30)
    assert _same_state(rs.gen_state(), np.random.RandomState(int(gen.randint(2**30))))


def R(seed=5):
    return np.random.RandomState(seed)


def test_helpers_make_the_same_numpy_calls():
    np.testing.assert_array_equal(reng.uniform(R(), (2, 3), -1, 2, dtype="float32"),
                                  R().uniform(-1, 2, (2, 3)).astype(np.float32))
    assert reng.uniform(R(), (2,)).dtype == np.float64
    assert reng.uniform(R(), (2,), floatX="float32").dtype == np.float32
    # floatX=float32: the Python float is rounded to float32 before numpy sees it
    np.testing.assert_array_equal(reng.uniform(R(), (4,), low=0.1, floatX="float32"),
                                  R().uniform(np.float32(0.1), 1.0, (4,)).astype(np.float32))
    np.testing.assert_array_equal(reng.normal(R(), (3, 2), 1.0, 3.0),
                                  R().normal(1.0, 3.0, (3, 2)))
    np.testing.assert_array_equal(reng.binomial(R(), (5,), 4, 0.3), R().binomial(4, 0.3, (5,)))
    np.testing.assert_array_equal(reng.poisson(R(), (5,), 2.5), R().poisson(2.5, (5,)))
    np.testing.assert_array_equal(reng.choice(R(), (4,), 10, False),
                                  R().choice(10, (4,), False, None))
    np.testing.assert_array_equal(reng.choice(R(), (3,), 3, True, [0.2, 0.3, 0.5], dtype="int32"),
                                  R().choice(3, (3,), True, [0.2, 0.3, 0.5]).astype(np.int32))
    r = R()
    np.testing.assert_array_equal(reng.permutation(R(), (2,), 5),
                                  np.stack([r.permutation(5), r.permutation(5)]))
    assert reng.permutation(R(), None, 4).shape == (4,)
    r = R()
    got = reng.multinomial(R(), (2,), 6, [0.2, 0.3, 0.5])
    np.testing.assert_array_equal(got, [r.multinomial(6, [0.2, 0.3, 0.5]) for _ in range(2)])
    assert reng.uniform(R(), ()).shape == () and reng.uniform(R(), None).shape == ()
    assert reng.normal(R(), None, ndim=2).shape == (1, 1)  # perform() reshapes scalars
    with pytest.raises(ValueError, match="ndim"):
        reng.uniform(R(), (2, 3), ndim=1)


def test_random_integers_per_element_semantics():
    r = R()
    lows = np.array([0, -5, 10])
    got = reng.random_integers(R(), (2, 3), low=lows, high=20)
    expect = [[r.randint(int(lo), 21) for lo in lows] for _ in range(2)]
    np.testing.assert_array_equal(got, expect)
    r = R()  # scalar bounds: vectorised path must equal per-element calls
    expect = [r.randint(-3, 4) for _ in range(12)]
    np.testing.assert_array_equal(reng.random_integers(R(), (3, 4), -3, 3).ravel(), expect)
    assert reng.random_integers(R(), (2,), 0, 2**40).dtype == np.int64


def test_autocast_and_upcast_rules():
    assert reng.theano_autocast(0.5).dtype == np.float32
    assert reng.theano_autocast(0.1).dtype == np.float64
    assert reng.theano_autocast(0.1, "float32").dtype == np.float32
    assert reng.theano_autocast(300).dtype == np.int16
    assert reng.theano_upcast("float32", "int64") == "float32"
    assert reng.theano_upcast("float32", "float64") == "float64"
    assert reng.theano_upcast("float64", "float32", "int8") == "float64"
