"""The whole time loop of :func:`astrofield.simulator.integrator.solve` compiled with numba.

The arithmetic is that of :meth:`astrofield.simulator.integrator.Simulator.step` (read its
docstring and the module docstring of :mod:`astrofield.simulator.integrator` for the scheme);
only the order of a few sums differs, so results agree with the numpy path to round-off.

Layout: batch members are independent, so the loop runs *member by member*: ``prange`` hands
members to the cores and each member advances through all steps of a chunk with its working set
(about 30 vectors of length ``N``, three complex rows of length ``N // 2 + 1`` and its diffusion
multipliers) resident in the L1/L2 cache. Memory per member is therefore constant as the batch
grows. Python is called only between chunks (stop rules), never per step.

Astrocyte diffusion, uniform ``D``: ``e^{hL}``, ``phi1(hL)``, ``phi2(hL)`` are diagonal in
Fourier space; the driver passes each member's real multipliers (mean mode exactly ``1, 1, 1/2``,
so the total resource is conserved to round-off) and a step applies them between real FFTs
(``r2c``/``c2r`` of ``rocket-fft``, writing into preallocated rows, one thread each)::

    P  = e_k A + h phi1_k rfft(J0);        a_p = irfft(P)
    P += h phi2_k rfft(dJ);                a_n = irfft(P),  A = P for the next step

four transforms per step (``A = rfft(a)`` is taken only at the start of a chunk). ``D = inf``
(all multipliers but the mean one 0) needs sums instead (the mean of the uniform pool ``a`` by
:func:`_mean`, exact for equal values, as in the numpy step), and the resource relaxation then
has one rate per member, so one ``expm1``. A heterogeneous ``D(x)`` uses dense products with
the flux-form matrices.

Synaptic drive: the cosine kernel needs only the first Fourier moments. Other kernels convolve
by an ``rfft``/``irfft`` pair with the kernel's transform, except a Heaviside bump with at most
:data:`SPARSE_MAX` active cells, summed directly over them (``axpy`` over the periodically
extended kernel; cheaper for so few cells); the first-moment correction (non-zero in the two
edge cells only) is always summed directly.

Reference counting: numba counts references to every array with atomic operations, on every
view (``W[3]``, ``g[0]``, ...) and every array passed to a compiled function; in a step that
touches some forty rows these updates took a fifth to a third of the time (gdb sampling at
``N`` 128), and in parallel runs the shared read-only arrays (``ring``, ``ops``, ...) bounce
their counters between cores. The step loop (:func:`_member_steps`) therefore works on
*borrowed* arrays (:func:`_borrow`: same data, no reference count, so views and calls of them
update nothing) of its arguments, which its caller :func:`_run_member` holds alive for the
whole call. The step itself (:func:`_step`) and the edge kernel are inlined into that loop: a
call still passes each array argument through the counting calls on entry and exit (on null
counters, but calls nonetheless), and once inlined LLVM also keeps the rows and flags that do
not change from step to step out of the loop (a step at ``N`` 32 about a quarter cheaper).

Stiff exchange: the step has the safeguards of the numpy step
(:mod:`astrofield.simulator.scheme`): ``a >= 0`` in the rates, and where some cell of a member
has ``h k > 1`` the stiff predictor, the damped flux slope (:func:`_stiff_predictor`,
:func:`_stiff_corrector`) and the limiter that keeps ``a >= 0`` (:func:`_limit_negative_a`).
Numpy decides "stiff" for the whole batch, this loop per member: results agree to round-off.
Where no cell is stiff and ``a >= 0`` the step is the plain one, bit for bit.

Failure detection: after every step each member's ``u, q, a`` are checked for finiteness; a member
whose new state is not finite keeps its last finite state, stops, and its ``t_failed`` is set.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.core import cgutils
from numba.extending import intrinsic
from rocket_fft import c2r, r2c  # registers numpy.fft for numba; r2c/c2r write into `out`

from astrofield.simulator.compiled import edges_row, relax_scalar, remap_row

__all__ = ["run_chunk", "run_chunk_serial", "observe_all", "observe_all_serial"]

_TINY = 1e-300
#: Every kernel below uses numba's ``error_model="numpy"``: a float division by zero gives
#: inf/NaN (caught by the failure check) instead of a Python exception, so divisions carry no
#: zero test and loops containing them vectorise. No fast-math flags: with reassociation or
#: contraction LLVM may round a sum differently depending on where a function is inlined (the
#: parallel and the serial chunk loops), and every executor must give identical numbers; the
#: hot sums use eight explicit partial sums instead (:func:`_dot`), whose order is fixed, and
#: the series an explicit fused multiply-add (:func:`_fma`).
_AXIS = np.zeros(1, dtype=np.int64)  # the one transform axis of a row
#: Heaviside drive of a non-cosine kernel: summed directly over the active cells when there are
#: at most this many (cost ``N`` per active cell), else by an ``rfft``/``irfft`` pair.
SPARSE_MAX = 32


@intrinsic
def _borrow(typingctx, arr):
    """A view of ``arr`` (same data, shape and strides) without a reference count.

    Views of it and calls passing it do no atomic reference-count updates. The borrowed array
    does not keep the memory alive: borrow only arrays that outlive every use of the result,
    such as a function's own arguments (its caller holds them for the whole call).
    """
    def codegen(context, builder, signature, args):
        ary = context.make_array(arr)(context, builder, value=args[0])
        null = cgutils.get_null_value(ary.meminfo.type)
        ary.meminfo = null
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()

    return arr(arr), codegen


@intrinsic
def _fma(typingctx, x, y, z):
    """``x * y + z`` with one rounding (``llvm.fma.f64``, the hardware instruction where there
    is one). Explicit, so the rounding is the same wherever the caller is compiled (unlike the
    fast-math contraction, which LLVM may apply in one inlining context and not another)."""
    from llvmlite import ir
    from numba.core import types

    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [dbl],
                                              ir.FunctionType(dbl, [dbl, dbl, dbl]))
        return builder.call(fn, args)

    if x == types.float64 and y == types.float64 and z == types.float64:
        return types.float64(types.float64, types.float64, types.float64), codegen
    return None


@njit(cache=True, error_model="numpy", inline="always")
def _copy(dst, src):  # pragma: no cover - compiled
    """``dst[:] = src`` as an element loop with one load and one store (it vectorises; loops
    that read and write many rows are not vectorised by LLVM, which would need a run-time
    overlap check for every pair of rows, and numba's slice assignment is not vectorised)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(cache=True, error_model="numpy", inline="always")
def _dot(x, y, scale):  # pragma: no cover - compiled
    """``sum_j x[j] * (scale * y[j])`` in eight interleaved partial sums (``j mod 8``, each
    updated by a fused multiply-add) combined pairwise: a fixed order, so the same rounding
    wherever it is compiled, and eight independent chains that the compiler can pack into
    vector registers (a sum in one chain is latency-bound)."""
    n = x.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 = _fma(x[j], scale * y[j], s0)
        s1 = _fma(x[j + 1], scale * y[j + 1], s1)
        s2 = _fma(x[j + 2], scale * y[j + 2], s2)
        s3 = _fma(x[j + 3], scale * y[j + 3], s3)
        s4 = _fma(x[j + 4], scale * y[j + 4], s4)
        s5 = _fma(x[j + 5], scale * y[j + 5], s5)
        s6 = _fma(x[j + 6], scale * y[j + 6], s6)
        s7 = _fma(x[j + 7], scale * y[j + 7], s7)
    for j in range(m, n):
        s0 = _fma(x[j], scale * y[j], s0)
    return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))


@njit(cache=True, error_model="numpy", inline="always")
def _total(a, b, c, d):  # pragma: no cover - compiled
    """``sum_j (a[j] + b[j] + c[j] + d[j])`` in eight partial sums (see :func:`_dot`); NaN or
    inf in any entry makes it non-finite."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 += (a[j] + b[j]) + (c[j] + d[j])
        s1 += (a[j + 1] + b[j + 1]) + (c[j + 1] + d[j + 1])
        s2 += (a[j + 2] + b[j + 2]) + (c[j + 2] + d[j + 2])
        s3 += (a[j + 3] + b[j + 3]) + (c[j + 3] + d[j + 3])
        s4 += (a[j + 4] + b[j + 4]) + (c[j + 4] + d[j + 4])
        s5 += (a[j + 5] + b[j + 5]) + (c[j + 5] + d[j + 5])
        s6 += (a[j + 6] + b[j + 6]) + (c[j + 6] + d[j + 6])
        s7 += (a[j + 7] + b[j + 7]) + (c[j + 7] + d[j + 7])
    for j in range(m, n):
        s0 += (a[j] + b[j]) + (c[j] + d[j])
    return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))


@njit(cache=True, error_model="numpy", inline="always")
def _rfft(x, out):  # pragma: no cover - compiled
    """``out = numpy.fft.rfft(x)`` into a preallocated complex row of length ``N // 2 + 1``."""
    r2c(x, out, _AXIS, True, 1.0, 1)


@njit(cache=True, error_model="numpy", inline="always")
def _irfft(xh, out):  # pragma: no cover - compiled
    """``out = numpy.fft.irfft(xh, n=len(out))`` (``xh`` is left unchanged)."""
    c2r(xh, out, _AXIS, False, 1.0 / out.shape[0], 1)


@njit(cache=True, error_model="numpy", inline="always")
def _conv_axpy(out, r, kext, scale):  # pragma: no cover - compiled
    """``out[i] += scale * sum_j kext[i - j + n] r[j]`` (circular convolution, ``kext`` 2n)."""
    n = r.shape[0]
    for j in range(n):
        c = scale * r[j]
        if c == 0.0:
            continue
        row = kext[n - j:2 * n - j]  # a view indexed from 0: the loop vectorises
        for i in range(n):
            out[i] += c * row[i]


@njit(cache=True, error_model="numpy", inline="always")
def _dense_axpy(out, r, mt, scale):  # pragma: no cover - compiled
    """``out += scale * M r`` with ``mt = M.T`` (contiguous rows)."""
    n = r.shape[0]
    for j in range(n):
        c = scale * r[j]
        if c == 0.0:
            continue
        row = mt[j]
        for i in range(n):
            out[i] += c * row[i]


@njit(cache=True, error_model="numpy", inline="always")
def _mean(x):  # pragma: no cover - compiled
    """Mean of ``x`` as ``x[0] + sum_j (x[j] - x[0]) / n``: exactly ``x[0]`` for a uniform row.

    The astrocytic pool at ``D = inf`` is uniform; a plain sum of ``n`` equal values is rounded
    the same way at every step, a bias that accumulated into a total-resource drift of ~1e-12
    over 10^4 steps and moved the resting bump near the fold (``docs/verdicts.md``, section 6).
    """
    x0 = x[0]
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] - x0
    return x0 + s / x.shape[0]


@njit(cache=True, error_model="numpy", inline="always")
def _astro_predictor(ap, a, J0, ops, dense, b, h, mean_only, a_hat, Z):  # pragma: no cover
    """``ap = e^{hL} a + h phi1(hL) J0`` for member ``b``.

    Uniform ``D``: ``ops[b, :, 0]`` are the Fourier multipliers of ``e^{hL}, phi1(hL), phi2(hL)``
    and the product is ``irfft(e_k rfft(a) + h phi1_k rfft(J0))``, whose transform is left in
    ``Z[0]`` for :func:`_astro_corrector`; ``rfft(a)`` is taken from ``Z[0]`` where ``a_hat``
    says it is there (the corrector of the previous step left it). ``mean_only`` (``D = inf``:
    every multiplier but the mean one is 0) needs only two sums. Heterogeneous ``D``: dense
    products."""
    n = a.shape[0]
    if dense:
        ap[:] = 0.0
        _dense_axpy(ap, a, ops[0, 0], 1.0)
        _dense_axpy(ap, J0, ops[0, 1], h)
        return
    e, p1 = ops[b, 0, 0], ops[b, 1, 0]
    if mean_only:
        sj = 0.0
        for j in range(n):
            sj += J0[j]
        m = e[0] * _mean(a) + h * p1[0] * (sj / n)
        for j in range(n):
            ap[j] = m
        return
    ah, jh = Z[0], Z[1]
    if not a_hat:
        _rfft(a, ah)
    _rfft(J0, jh)
    for k in range(ah.shape[0]):
        ah[k] = e[k] * ah[k] + (h * p1[k]) * jh[k]
    _irfft(ah, ap)


@njit(cache=True, error_model="numpy", inline="always")
def _astro_corrector(an, ap, dJ, ops, dense, b, h, mean_only, Z):  # pragma: no cover - compiled
    """``an = ap + h phi2(hL) dJ`` (uniform ``D``: from the transform of ``ap`` in ``Z[0]``,
    which then holds ``rfft(an)``)."""
    n = an.shape[0]
    if dense:
        an[:] = ap
        _dense_axpy(an, dJ, ops[0, 2], h)
        return
    p2 = ops[b, 2, 0]
    if mean_only:
        s = 0.0
        for j in range(n):
            s += dJ[j]
        c = h * p2[0] * s / n
        for j in range(n):
            an[j] = ap[j] + c
        return
    ah, dh = Z[0], Z[1]
    _rfft(dJ, dh)
    for k in range(ah.shape[0]):
        ah[k] += (h * p2[k]) * dh[k]
    _irfft(ah, an)


@njit(cache=True, error_model="numpy")
def _mean_only(ops, dense, b):  # pragma: no cover - compiled
    """Whether member ``b``'s diffusion keeps only the mean (all multipliers ``k > 0`` zero)."""
    if dense:
        return False
    for i in range(3):
        row = ops[b, i, 0]
        for k in range(1, row.shape[0]):
            if row[k] != 0.0:
                return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _geometry(u, th, heav, subgrid, ring, phi, mc, ms, m1):  # pragma: no cover - compiled
    """Active-region quadrature of one member (zeros for sigmoid firing)."""
    n = u.shape[0]
    if not heav:
        for j in range(n):
            phi[j] = 0.0
            mc[j] = 0.0
            ms[j] = 0.0
            m1[j] = 0.0
        return
    dx = 2 * np.pi / n
    if subgrid:
        edges_row(u, th, ring, phi, mc, ms, m1)
        return
    for j in range(n):
        p = 1.0 if u[j] > th else 0.0
        phi[j] = p
        mc[j] = p * ring[1, j] * dx
        ms[j] = p * ring[2, j] * dx
        m1[j] = 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _firing_out(fire, u, th, steep, heav, fo):  # pragma: no cover - compiled
    """Firing rate on the inactive/nodal part: 0 for Heaviside firing (its active parts are
    the sub-grid cells), else ``fire(u_j, theta, steepness)`` (the model's compiled rate)."""
    if heav:
        for j in range(u.shape[0]):
            fo[j] = 0.0
        return
    for j in range(u.shape[0]):
        fo[j] = fire(u[j], th, steep)


@njit(cache=True, error_model="numpy")
def _conv_fft(out, r, kh, zh):  # pragma: no cover - compiled
    """``out = irfft(kh rfft(r))``: circular convolution with the kernel of transform ``kh``
    (``zh``: complex scratch row of length ``N // 2 + 1``)."""
    _rfft(r, zh)
    for k in range(zh.shape[0]):
        zh[k] *= kh[k]
    _irfft(zh, out)


@njit(cache=True, error_model="numpy", inline="always")
def _drive(out, phi, mc, ms, m1, qi, qo, fo, heav, subgrid, cosine, amp, ring, wk, wh,
           work, zh):  # pragma: no cover - compiled
    """Synaptic drive ``∫ w(x - y) q f dy`` of one member into ``out`` (overwritten).

    Non-cosine kernels: the convolution with ``w`` (transform ``wh[0]``) by FFT, except for a
    Heaviside bump with at most :data:`SPARSE_MAX` active cells, which is summed directly over
    them (``wk[0]``: ``w`` extended periodically); the first-moment correction (non-zero in the
    two edge cells only) is always summed directly (``wk[1]``: ``w'``).
    """
    n = out.shape[0]
    dx = 2 * np.pi / n
    if cosine:
        _drive_cosine(out, mc, ms, qi, qo, fo, heav, amp, ring)
        return
    if heav:
        nnz = 0
        for j in range(n):
            work[j] = qi[j] * phi[j] * dx
            nnz += work[j] != 0.0
        if nnz <= SPARSE_MAX:
            out[:] = 0.0
            _conv_axpy(out, work, wk[0], 1.0)
        else:
            _conv_fft(out, work, wh[0], zh)
        if subgrid:
            for j in range(n):
                work[j] = qi[j] * m1[j]
            _conv_axpy(out, work, wk[1], -1.0)
    else:
        for j in range(n):
            work[j] = qo[j] * fo[j] * dx
        _conv_fft(out, work, wh[0], zh)


@njit(cache=True, error_model="numpy", inline="always")
def _drive_cosine(out, mc, ms, qi, qo, fo, heav, amp, ring):  # pragma: no cover - compiled
    """Drive of the cosine kernel: ``amp (C cos x + S sin x)`` from the first Fourier moments."""
    n = out.shape[0]
    dx = 2 * np.pi / n
    C = 0.0
    S = 0.0
    if heav:
        C = _dot(qi, mc, 1.0)
        S = _dot(qi, ms, 1.0)
    else:
        for j in range(n):
            v = qo[j] * fo[j]
            C += v * ring[1, j] * dx
            S += v * ring[2, j] * dx
    for j in range(n):
        out[j] = amp * (C * ring[1, j] + S * ring[2, j])


@njit(cache=True, error_model="numpy")
def _observe(u, qi, qo, a, phi, mc, ms, m1, inp_t, pr, fire, heav, subgrid, cosine, amp, ring,
             wk, wh,
             w, zh):  # pragma: no cover - compiled
    """``(velocity, width, mass, phase)`` of one member (scratch: ``w`` real ``(8, N)``, ``zh``
    complex ``(N // 2 + 1,)``)."""
    n = u.shape[0]
    dx = 2 * np.pi / n
    th, steep = pr[0], pr[4]
    fo, du = w[0], w[1]
    _firing_out(fire, u, th, steep, heav, fo)
    _drive(du, phi, mc, ms, m1, qi, qo, fo, heav, subgrid, cosine, amp, ring, wk, wh, w[2], zh)
    c = 0.0
    s = 0.0
    dc = 0.0
    ds = 0.0
    mass = 0.0
    for j in range(n):
        d = -u[j] + du[j] + inp_t[j]
        cw = ring[1, j] * dx
        sw = ring[2, j] * dx
        c += u[j] * cw
        s += u[j] * sw
        dc += d * cw
        ds += d * sw
        p = phi[j]
        mass += p * qi[j] + (1.0 - p) * qo[j] + a[j]
    vel = (c * ds - s * dc) / max(c * c + s * s, _TINY)
    if heav:
        width = 0.0
        for j in range(n):
            width += phi[j]
    else:  # sigmoid: width of {u > theta} from the sub-grid edges
        edges_row(u, th, ring, w[3], w[4], w[5], w[6])
        width = 0.0
        for j in range(n):
            width += w[3, j]
    return vel, width * (2 * np.pi / n), mass * dx, math.atan2(s, c)


# ---------------------------------------------------------------------- one step, one member
@njit(cache=True, error_model="numpy")
def _relax_row(out, q, kk, ss, h):  # pragma: no cover - compiled
    for j in range(q.shape[0]):
        out[j] = relax_scalar(q[j], kk[j], ss[j], h)


#: Largest ``|z|`` (``z = -k h``, the relaxation exponent of a step) at which ``phi1(z)`` is
#: summed as its Taylor series (:func:`_phi1_series`, degree 16: truncation below ``3e-21``
#: relative) instead of by ``expm1(z) / z``; beyond it, or at any cell of a row beyond it,
#: :func:`_relax_pair` takes the ``expm1`` path.
PHI1_SERIES_MAX = 0.5
#: Below this ``|z|`` in every cell of a row the series stops at degree 10 (:func:`_phi1_short`,
#: truncation below ``2e-19`` relative): the usual case ``z = -(gamma a + beta) h / tau``.
PHI1_SHORT_MAX = 0.125


@njit(cache=True, error_model="numpy", inline="always")
def _phi1_series(z):  # pragma: no cover - compiled
    """``phi1(z) = expm1(z) / z = sum_k z^k / (k + 1)!`` for ``|z| <= PHI1_SERIES_MAX``
    (Horner form, no division and no call: the loop around it vectorises)."""
    p = 1.0 / 355687428096000.0  # 1 / 17!
    p = _fma(p, z, 1.0 / 20922789888000.0)
    p = _fma(p, z, 1.0 / 1307674368000.0)
    p = _fma(p, z, 1.0 / 87178291200.0)
    p = _fma(p, z, 1.0 / 6227020800.0)
    p = _fma(p, z, 1.0 / 479001600.0)
    p = _fma(p, z, 1.0 / 39916800.0)
    return _phi1_tail(_fma(p, z, 1.0 / 3628800.0), z)


@njit(cache=True, error_model="numpy", inline="always")
def _phi1_short(z):  # pragma: no cover - compiled
    """:func:`_phi1_series` to degree 10, for ``|z| <= PHI1_SHORT_MAX``."""
    p = 1.0 / 39916800.0  # 1 / 11!
    return _phi1_tail(_fma(p, z, 1.0 / 3628800.0), z)


@njit(cache=True, error_model="numpy", inline="always")
def _phi1_tail(p, z):  # pragma: no cover - compiled
    """The last nine Horner steps of the ``phi1`` series (``p``: the coefficient of ``z^9``)."""
    p = _fma(p, z, 1.0 / 362880.0)
    p = _fma(p, z, 1.0 / 40320.0)
    p = _fma(p, z, 1.0 / 5040.0)
    p = _fma(p, z, 1.0 / 720.0)
    p = _fma(p, z, 1.0 / 120.0)
    p = _fma(p, z, 1.0 / 24.0)
    p = _fma(p, z, 1.0 / 6.0)
    p = _fma(p, z, 0.5)
    return _fma(p, z, 1.0)


@njit(cache=True, error_model="numpy")
def _relax_pair(qi, qo, ss, bk, emb, h, qi_out, qo_out):  # pragma: no cover - compiled
    """Heaviside resource updates: ``qo`` relaxes with rate ``s`` (``q' = s - s q``), ``qi``
    with rate ``s + bk`` (``bk = beta / tau``): ``q_new = q (1 + z phi1(z)) + s h phi1(z)``
    with ``z = -rate h``. Where every ``|z|`` of the row is at most :data:`PHI1_SERIES_MAX`
    (the usual case: ``z = -(gamma a + beta) h / tau``), ``phi1`` is its Taylor series
    (vectorised); otherwise :func:`_relax_pair_expm1`. Both agree to round-off."""
    n = qi.shape[0]
    zb = -bk * h
    far = 0  # cells beyond each switch (integer counts: the loop vectorises; NaN counts in
    mid = 0  # neither and propagates through the series)
    for j in range(n):
        z = abs(ss[j] * h) + abs(zb)  # bounds |z| and |z + zb|
        far += z > PHI1_SERIES_MAX
        mid += z > PHI1_SHORT_MAX
    if far:
        _relax_pair_expm1(qi, qo, ss, bk, emb, h, qi_out, qo_out)
    elif mid:
        _relax_series(qi, qo, ss, zb, h, qi_out, qo_out, False)
    else:
        _relax_series(qi, qo, ss, zb, h, qi_out, qo_out, True)


@njit(cache=True, error_model="numpy", inline="always")
def _relax_series(qi, qo, ss, zb, h, qi_out, qo_out, short):  # pragma: no cover - compiled
    """The series path of :func:`_relax_pair` (two single-output loops: each vectorises)."""
    n = qi.shape[0]
    for j in range(n):
        z = -ss[j] * h
        p1 = _phi1_short(z) if short else _phi1_series(z)
        qo_out[j] = qo[j] * (1.0 + z * p1) + ss[j] * h * p1
    for j in range(n):
        z2 = -ss[j] * h + zb
        p2 = _phi1_short(z2) if short else _phi1_series(z2)
        qi_out[j] = qi[j] * (1.0 + z2 * p2) + ss[j] * h * p2


@njit(cache=True, error_model="numpy")
def _relax_pair_expm1(qi, qo, ss, bk, emb, h, qi_out, qo_out):  # pragma: no cover - compiled
    """:func:`_relax_pair` for any ``z``, sharing one ``expm1`` per cell through the exact
    identity ``expm1(a + b) = expm1(a) + expm1(b) + expm1(a) expm1(b)`` with the per-member
    constant ``emb = expm1(-bk h)`` (no cancellation, round-off level)."""
    for j in range(qi.shape[0]):
        s = ss[j]
        z = -s * h
        em = math.expm1(z)
        p1 = 1.0 + 0.5 * z if abs(z) < 1e-8 else em / z
        qo_out[j] = qo[j] * (em + 1.0) + s * h * p1
        k = s + bk
        z2 = -k * h
        em2 = em + emb + em * emb
        p2 = 1.0 + 0.5 * z2 if abs(z2) < 1e-8 else em2 / z2
        qi_out[j] = qi[j] * (em2 + 1.0) + s * h * p2


@njit(cache=True, error_model="numpy")
def _relax_uniform(qi, qo, s, bk, emb, h, qi_out, qo_out):  # pragma: no cover - compiled
    """:func:`_relax_pair` for the same rate ``s`` in every cell: one ``expm1``, same numbers."""
    z = -s * h
    em = math.expm1(z)
    p1 = 1.0 + 0.5 * z if abs(z) < 1e-8 else em / z
    k = s + bk
    z2 = -k * h
    em2 = em + emb + em * emb
    p2 = 1.0 + 0.5 * z2 if abs(z2) < 1e-8 else em2 / z2
    for j in range(qi.shape[0]):
        qo_out[j] = qo[j] * (em + 1.0) + s * h * p1
        qi_out[j] = qi[j] * (em2 + 1.0) + s * h * p2


@njit(cache=True, error_model="numpy", inline="always")
def _relax_member(qi, qo, ss, bk, emb, h, qi_out, qo_out, mean_only):  # pragma: no cover
    """:func:`_relax_pair`, or :func:`_relax_uniform` when diffusion keeps only the mean
    (``D = inf``: ``a``, hence the rate, is then the same in every cell; checked). ``emb =
    expm1(-bk h)``, a constant of the member (:func:`_member_steps` computes it once: a
    ``libm`` call per use cost about as much as a loop over the row)."""
    if mean_only:
        uniform = True
        for j in range(ss.shape[0]):
            if ss[j] != ss[0]:
                uniform = False
                break
        if uniform:
            _relax_uniform(qi, qo, ss[0], bk, emb, h, qi_out, qo_out)
            return
    _relax_pair(qi, qo, ss, bk, emb, h, qi_out, qo_out)


@njit(cache=True, error_model="numpy", inline="always")
def _stiffness(z, ss, phi0, fo0, be, ta, h, heav):  # pragma: no cover - compiled
    """``z = h k`` per cell (``k = gamma a+ / tau + beta f / tau`` the relaxation rate of ``q``,
    ``f = phi`` for Heaviside firing) into ``z``; returns whether some cell is stiff (``z > 1``).
    The numpy step (:func:`astrofield.simulator.scheme.flux_ends`) switches on the same test.
    One loop per firing and an integer count, no branch or early exit: the loops vectorise
    (the loop with a per-cell select and a short-circuit ``or`` did not, and cost about 5 %
    of a step at ``N`` 64)."""
    n = z.shape[0]
    stiff = 0
    if heav:
        for j in range(n):
            z[j] = h * (ss[j] + be * phi0[j] / ta)
            stiff += z[j] > 1.0
    else:
        for j in range(n):
            z[j] = h * (ss[j] + be * fo0[j] / ta)
            stiff += z[j] > 1.0
    return stiff > 0


@njit(cache=True, error_model="numpy", inline="always")
def _damped_flux(Js, Je, J0, Jm, z):  # pragma: no cover - compiled
    """Start and end of the exchange flux with mean ``Jm`` and its slope damped by ``1 / z``
    where stiff (:func:`astrofield.simulator.scheme.flux_ends`)."""
    for j in range(J0.shape[0]):
        psi = 1.0 / max(z[j], 1.0)
        Js[j] = Jm[j] + (J0[j] - Jm[j]) * psi
        Je[j] = 2.0 * Jm[j] - Js[j]


@njit(cache=True, error_model="numpy", inline="always")
def _astro_full(out, a, Js, Je, ops, dense, b, h, mean_only, Z):  # pragma: no cover - compiled
    """``out = e^{hL} a + h phi1(hL) Js + h phi2(hL) (Je - Js)`` (the exact update with a flux
    linear from ``Js`` to ``Je``, as ``Simulator.astro_update``); leaves ``Z[0]`` stale."""
    n = a.shape[0]
    if dense:
        out[:] = 0.0
        _dense_axpy(out, a, ops[0, 0], 1.0)
        _dense_axpy(out, Js, ops[0, 1], h)
        _dense_axpy(out, Je, ops[0, 2], h)
        _dense_axpy(out, Js, ops[0, 2], -h)
        return
    e, p1, p2 = ops[b, 0, 0], ops[b, 1, 0], ops[b, 2, 0]
    if mean_only:  # the pool's mean by _mean: exact for the uniform pool (no drift)
        ss = 0.0
        se = 0.0
        for j in range(n):
            ss += Js[j]
            se += Je[j]
        m = e[0] * _mean(a) + (h * p1[0] * ss + h * p2[0] * (se - ss)) / n
        for j in range(n):
            out[j] = m
        return
    ah, sh, eh = Z[0], Z[1], Z[2]
    _rfft(a, ah)
    _rfft(Js, sh)
    _rfft(Je, eh)
    for k in range(ah.shape[0]):
        ah[k] = (e[k] * ah[k] + (h * p1[k]) * sh[k]) + (h * p2[k]) * (eh[k] - sh[k])
    _irfft(ah, out)


@njit(cache=True, error_model="numpy", inline="always")
def _stiff_predictor(ap, a, J0, qi, qo, qi_p, qo_p, phi0, heav, ops, dense, b, h, mean_only, Z,
                     W):  # pragma: no cover - compiled
    """Predictor of ``a`` where the exchange is stiff
    (:func:`astrofield.simulator.scheme.astro_predictor`): the step-averaged flux of the
    predicted ``q`` with the damped slope, kept non-negative in the stiff cells. ``W[28]``
    holds ``z``; uses ``W[29:32]``."""
    z, Js, Je, Jm = W[28], W[29], W[30], W[31]
    n = a.shape[0]
    ih = 1.0 / h
    for j in range(n):
        if heav:
            p = phi0[j]
            dq = p * (qi_p[j] - qi[j]) + (1 - p) * (qo_p[j] - qo[j])
        else:
            dq = qo_p[j] - qo[j]
        Jm[j] = -dq * ih
    _damped_flux(Js, Je, J0, Jm, z)
    for j in range(n):
        if z[j] <= 1.0:
            Je[j] = J0[j]
    _astro_full(ap, a, Js, Je, ops, dense, b, h, mean_only, Z)
    for j in range(n):
        if z[j] > 1.0:
            ap[j] = max(ap[j], 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _stiff_corrector(an, a, J0, dq, ops, dense, b, h, mean_only, Z, W):  # pragma: no cover
    """Corrector of ``a`` where the exchange is stiff: the shared flux ``-dq / h`` with the
    damped slope (:func:`astrofield.simulator.scheme.shared_flux_update`)."""
    z, Js, Je, Jm = W[28], W[29], W[30], W[31]
    ih = 1.0 / h
    for j in range(an.shape[0]):
        Jm[j] = -dq[j] * ih
    _damped_flux(Js, Je, J0, Jm, z)
    _astro_full(an, a, Js, Je, ops, dense, b, h, mean_only, Z)


@njit(cache=True, error_model="numpy", inline="always")
def _limit_negative_a(an, qi_n, qo_n, qi_m, qo_m, phim, heav):  # pragma: no cover - compiled
    """:func:`astrofield.simulator.step_control.limit_negative_a` for one member: where
    ``an < 0`` the rise of ``q`` over the step is scaled down by ``-an`` (as far as it goes),
    the total ``q + a`` unchanged. Smooth firing: ``q`` is ``qo_n`` (from ``qo_m``), ``qi_n`` is
    left alone. Returns whether any cell changed. A vectorised count of the cells with
    ``an < 0`` comes first: nearly always there are none, and the loop below, whose branches
    keep it scalar, is then skipped."""
    neg = 0
    for j in range(an.shape[0]):
        neg += an[j] < 0.0
    if neg == 0:
        return False
    changed = False
    for j in range(an.shape[0]):
        if an[j] < 0.0:
            ro = max(qo_n[j] - qo_m[j], 0.0)
            ri = max(qi_n[j] - qi_m[j], 0.0) if heav else 0.0
            inc = phim[j] * ri + (1 - phim[j]) * ro if heav else ro
            take = min(-an[j], inc)
            r = take / inc if inc > 0 else 0.0
            an[j] += take
            if heav:
                qi_n[j] -= r * ri
            qo_n[j] -= r * ro
            changed = True
    return changed


@njit(cache=True, error_model="numpy", inline="always")
def _step(st, g, inp0, inp1, noise, pr, h, E, flags, fire, amp, ring, wk, wh, ops, b, mean_only,
          a_hat, W, Z, emb, has_noise):  # pragma: no cover - compiled
    """One step of member ``b``; ``st = (u, q_in, q_out, a)`` and its geometry ``g`` are
    replaced by the new state only if it is finite (returns whether it was). Scratch: ``W``
    real ``(32, N)``, ``Z`` complex ``(3, N // 2 + 1)``; ``a_hat``: ``Z[0]`` holds ``rfft(a)``
    (uniform finite ``D``, left there by the previous step); ``emb = expm1(-h beta / tau)``;
    ``noise`` is added only where ``has_noise``.

    Heaviside firing skips the work whose result it never reads: the nodal firing rates
    ``fo0, fo1`` (0; its active parts are the sub-grid cells) and the relaxation rates ``kk``
    (its resource updates take ``ss`` and ``beta / tau``)."""
    heav, subgrid, cosine, dense = flags[0], flags[1], flags[2], flags[3]
    n = st.shape[1]
    u, qi, qo, a = st[0], st[1], st[2], st[3]
    th, be, ga, ta, steep = pr[0], pr[1], pr[2], pr[3], pr[4]
    u1, N0, N1, fo0, fo1, J0, qi_p, qo_p = W[0], W[1], W[2], W[3], W[4], W[5], W[6], W[7]
    ap, phim, qi_n, qo_n, dJ, an = W[8], W[9], W[12], W[13], W[14], W[15]
    un, kk, ss, work = W[16], W[17], W[18], W[19]
    g1 = W[20:24]
    gn = W[24:28]
    it = 1.0 / ta  # loops multiply by reciprocals (a vector division costs several products)
    ih = 1.0 / h
    # predictor: exponential Euler for u (ETD stage), q and a
    if not heav:
        _firing_out(fire, u, th, steep, heav, fo0)
    _drive(N0, g[0], g[1], g[2], g[3], qi, qo, fo0, heav, subgrid, cosine, amp, ring, wk, wh,
           work, Z[2])
    # a >= 0 in the rates (as the numpy step): an undershoot of a must not make the relaxation
    # rate of q negative (anti-damped, overflowing at any step)
    for j in range(n):
        N0[j] += inp0[j]
        u1[j] = E * u[j] + (1.0 - E) * N0[j]
        ss[j] = ga * max(a[j], 0.0) * it
    if heav:  # separate loops (no branch inside: they vectorise)
        for j in range(n):
            p0 = g[0, j]
            J0[j] = (be * qi[j] * p0
                     - ga * max(a[j], 0.0) * (1.0 - (p0 * qi[j] + (1 - p0) * qo[j]))) * it
    else:
        for j in range(n):
            J0[j] = (be * qo[j] * fo0[j] - ga * max(a[j], 0.0) * (1.0 - qo[j])) * it
            kk[j] = ss[j] + be * fo0[j] / ta
    if heav:
        _relax_member(qi, qo, ss, be / ta, emb, h, qi_p, qo_p, mean_only)
    else:
        _relax_row(qo_p, qo, kk, ss, h)
        qi_p[:] = qi
    stiff = _stiffness(W[28], ss, g[0], fo0, be, ta, h, heav)
    if stiff:
        _stiff_predictor(ap, a, J0, qi, qo, qi_p, qo_p, g[0], heav, ops, dense, b, h, mean_only,
                         Z, W)
    else:
        _astro_predictor(ap, a, J0, ops, dense, b, h, mean_only, a_hat, Z)
    _geometry(u1, th, heav, subgrid, ring, g1[0], g1[1], g1[2], g1[3])
    if not heav:
        _firing_out(fire, u1, th, steep, heav, fo1)
    if heav:
        remap_row(qi_p, qo_p, g[0], g1[0], qi_p, qo_p)
    _drive(N1, g1[0], g1[1], g1[2], g1[3], qi_p, qo_p, fo1, heav, subgrid, cosine, amp, ring, wk,
           wh, work, Z[2])
    c = (E - 1.0 + h) / h
    for j in range(n):
        N1[j] += inp1[j]
        un[j] = u1[j] + c * (N1[j] - N0[j])
    # corrector: exponential trapezoid for q, shared exchange flux into a
    _corrector_q(st, g, g1, ap, fo0, fo1, pr, h, heav, mean_only, W, emb)
    if stiff:
        _stiff_corrector(an, a, J0, work, ops, dense, b, h, mean_only, Z, W)
    else:
        for j in range(n):
            dJ[j] = (2.0 * (-(work[j]) * ih) - J0[j]) - J0[j]
        _astro_corrector(an, ap, dJ, ops, dense, b, h, mean_only, Z)
    if heav:
        limited = _limit_negative_a(an, qi_n, qo_n, W[10], W[11], phim, heav)
    else:
        limited = _limit_negative_a(an, qi_n, qo_n, qo, qo, phim, heav)
    if (stiff or limited) and not (dense or mean_only):
        _rfft(an, Z[0])  # the next step reads rfft(a) from Z[0]
    if has_noise:
        for j in range(n):
            un[j] += noise[j]
    _geometry(un, th, heav, subgrid, ring, gn[0], gn[1], gn[2], gn[3])
    if heav:
        remap_row(qi_n, qo_n, phim, gn[0], qi_n, qo_n)
    else:
        qi_n[:] = qo_n
    ok = math.isfinite(_total(un, qi_n, qo_n, an))  # NaN or inf anywhere: not finite
    if ok:
        _copy(u, un)
        _copy(qi, qi_n)
        _copy(qo, qo_n)
        _copy(a, an)
        for i in range(4):
            _copy(g[i], gn[i])
    return ok


@njit(cache=True, error_model="numpy", inline="always")
def _corrector_q(st, g, g1, ap, fo0, fo1, pr, h, heav, mean_only, W, emb):  # pragma: no cover
    """Resource corrector of :func:`_step`; leaves ``dq`` in ``W[19]`` (the ``work`` row)."""
    n = st.shape[1]
    qi, qo, a = st[1], st[2], st[3]
    be, ga, ta = pr[1], pr[2], pr[3]
    phim, qi_m, qo_m, qi_n, qo_n = W[9], W[10], W[11], W[12], W[13]
    kk, ss, dq = W[17], W[18], W[19]
    for j in range(n):
        ss[j] = ga * 0.5 * max(a[j] + ap[j], 0.0) * (1.0 / ta)  # >= 0 (as the numpy step)
    if not heav:  # (Heaviside firing relaxes with ss and beta / tau)
        for j in range(n):
            kk[j] = ss[j] + be * (0.5 * (fo0[j] + fo1[j])) / ta
    if heav:
        for j in range(n):
            phim[j] = 0.5 * (g[0, j] + g1[0, j])
        remap_row(qi, qo, g[0], phim, qi_m, qo_m)
        _relax_member(qi_m, qo_m, ss, be / ta, emb, h, qi_n, qo_n, mean_only)
        for j in range(n):
            p = phim[j]
            dq[j] = p * (qi_n[j] - qi_m[j]) + (1 - p) * (qo_n[j] - qo_m[j])
    else:
        _relax_row(qo_n, qo, kk, ss, h)
        for j in range(n):
            dq[j] = qo_n[j] - qo[j]


# ---------------------------------------------------------------------- the chunk loop
@njit(cache=True, error_model="numpy", parallel=True)
def run_chunk(n0, n1, dt, E, frame_of, state, P, flags, fire, amp, ring, wk, wh, ops, inp, noise,
              running, pos, last, rec, fields, failed, t_failed):  # pragma: no cover
    """Advance every running member from step ``n0`` to ``n1`` (one member per task).

    Parameters (all arrays float64 unless stated)
    ---------------------------------------------
    frame_of : int64 ``(n_steps + 1,)``, frame index recorded after step ``n`` or ``-1``.
    state : ``(4, B, N)`` = ``u, q_in, q_out, a`` (updated in place).
    P : ``(B, 5)`` = ``theta, beta, gamma, tau, steepness``.
    flags : int64 ``(6,)`` = heaviside, subgrid, cosine, dense D, has input, store fields.
    fire : compiled firing rate ``f(u, theta, steepness)`` (a numba ``cfunc``, passed as a
        first-class function: one compiled loop serves every firing rate; not called for
        Heaviside firing).
    ring : ``(13, N)``, :attr:`astrofield.simulator.ring.Ring.table`.
    wk : ``(2, 2N)`` kernel ``w`` and ``w'`` extended periodically (non-cosine kernels).
    wh : complex ``(2, N // 2 + 1)``, ``rfft`` of ``w`` and ``w'`` (non-cosine kernels).
    ops : ``(B, 3, 1, N // 2 + 1)`` Fourier multipliers of the diffusion operators (uniform
        D) or ``(1, 3, N, N)`` transposed matrices (heterogeneous D).
    inp : ``(3, K, Bi, N)`` input at the start, end and frame time of each step of the chunk.
    noise : ``(K, B, N)`` noise increments, or ``(1, 1, N)`` zeros.
    running, failed : bool ``(B,)``; pos, last, t_failed ``(B,)``.
    rec : ``(4, B, nf)`` position, velocity, width, mass. fields : ``(3, B, nf, N)``.
    """
    # prange splits its range into equal blocks, one per thread: iterate over the running
    # members only, so that decided members (often neighbours on a parameter grid, hence in the
    # same block) do not leave one thread with most of the work
    alive = np.nonzero(running)[0]
    for i in prange(alive.size):
        _run_member(np.int64(alive[i]), n0, n1, dt, E, frame_of, state, P, flags, fire, amp, ring,
                    wk, wh, ops, inp, noise, running, pos, last, rec, fields, failed, t_failed)


@njit(cache=True, error_model="numpy", nogil=True)
def run_chunk_serial(n0, n1, dt, E, frame_of, state, P, flags, fire, amp, ring, wk, wh, ops, inp,
                     noise,
                     running, pos, last, rec, fields, failed, t_failed):  # pragma: no cover
    """:func:`run_chunk` on the calling thread only: for one member (no thread start-up) and
    for calls off the main thread, which run concurrently with others (it releases the GIL)."""
    for b in range(state.shape[1]):
        if running[b]:
            _run_member(b, n0, n1, dt, E, frame_of, state, P, flags, fire, amp, ring, wk, wh, ops,
                        inp, noise, running, pos, last, rec, fields, failed, t_failed)


@njit(cache=True, error_model="numpy")
def _run_member(b, n0, n1, dt, E, frame_of, state, P, flags, fire, amp, ring, wk, wh, ops, inp,
                noise, running, pos, last, rec, fields, failed, t_failed):  # pragma: no cover
    """The steps ``n0 + 1 .. n1`` of member ``b`` (see :func:`run_chunk`).

    Owns the member's working arrays; :func:`_member_steps` borrows them and the inputs (no
    reference counting in the steps), which stay alive here until it returns."""
    n = state.shape[2]
    st = np.empty((4, n))
    for k in range(4):
        st[k] = state[k, b]
    g = np.empty((4, n))
    W = np.zeros((32, n))
    Z = np.zeros((3, n // 2 + 1), dtype=np.complex128)
    scratch = np.zeros((8, n))
    zero = np.zeros(n)
    _member_steps(b, n0, n1, dt, E, frame_of, st, g, P, flags, fire, amp, ring, wk, wh, ops, inp,
                  noise, running, pos, last, rec, fields, failed, t_failed, W, Z, scratch, zero)
    for k in range(4):
        state[k, b] = st[k]


@njit(cache=True, error_model="numpy")
def _member_steps(b, n0, n1, dt, E, frame_of, st, g, P, flags, fire, amp, ring, wk, wh, ops, inp,
                  noise, running, pos, last, rec, fields, failed, t_failed, W, Z, scratch,
                  zero):  # pragma: no cover - compiled
    """The step loop of :func:`_run_member` (``st``: the member's state, ``g`` its geometry;
    scratch ``W``, ``Z``, ``scratch``, ``zero``). Every array that a step views or passes on is
    borrowed first: the caller holds the arguments alive for the whole call."""
    st, g, P, flags, ring, wk, wh = (_borrow(st), _borrow(g), _borrow(P), _borrow(flags),
                                     _borrow(ring), _borrow(wk), _borrow(wh))
    ops, inp, noise, fields = _borrow(ops), _borrow(inp), _borrow(noise), _borrow(fields)
    W, Z, scratch, zero = _borrow(W), _borrow(Z), _borrow(scratch), _borrow(zero)
    n = st.shape[1]
    has_inp, store = flags[4], flags[5]
    has_noise = noise.shape[0] > 1 or noise.shape[1] > 1
    dx = 2 * np.pi / n
    pr = P[b]
    _geometry(st[0], pr[0], flags[0], flags[1], ring, g[0], g[1], g[2], g[3])
    mean_only = _mean_only(ops, flags[3], b)
    emb = math.expm1(-(pr[1] / pr[3]) * dt)  # as _step's rates: bk = beta / tau, z = -bk h
    a_hat = False  # Z[0] holds rfft(a) (after a step with Fourier-space diffusion)
    bi = b if inp.shape[2] > 1 else 0
    for step in range(n0 + 1, n1 + 1):
        k = step - n0 - 1
        i0 = inp[0, k, bi] if has_inp else zero
        i1 = inp[1, k, bi] if has_inp else zero
        nz = noise[k, b] if has_noise else zero
        if not _step(st, g, i0, i1, nz, pr, dt, E, flags, fire, amp, ring, wk, wh, ops, b,
                     mean_only, a_hat, W, Z, emb, has_noise):
            failed[b] = True
            t_failed[b] = step * dt
            running[b] = False
            break
        a_hat = not (flags[3] or mean_only)
        c = _dot(st[0], ring[1], dx)
        s = _dot(st[0], ring[2], dx)
        ph = math.atan2(s, c)
        pos[b] += (ph - last[b] + np.pi) % (2 * np.pi) - np.pi
        last[b] = ph
        f = frame_of[step]
        if f >= 0:
            it = inp[2, k, bi] if has_inp else zero
            vel, width, mass, _ = _observe(st[0], st[1], st[2], st[3], g[0], g[1], g[2], g[3],
                                           it, pr, fire, flags[0], flags[1], flags[2], amp,
                                           ring, wk, wh, scratch, Z[2])
            rec[0, b, f] = pos[b]
            rec[1, b, f] = vel
            rec[2, b, f] = width
            rec[3, b, f] = mass
            if store:
                _store(fields, b, f, st, g)


@njit(cache=True, error_model="numpy")
def _store(fields, b, f, st, g):  # pragma: no cover - compiled
    for j in range(st.shape[1]):
        p = g[0, j]
        fields[0, b, f, j] = st[0, j]
        fields[1, b, f, j] = p * st[1, j] + (1.0 - p) * st[2, j]
        fields[2, b, f, j] = st[3, j]


@njit(cache=True, error_model="numpy", parallel=True)
def observe_all(state, P, flags, fire, amp, ring, wk, wh, inp_t,
                mask):  # pragma: no cover - compiled
    """``(B, 4)`` velocity, width, mass and phase of the members where ``mask`` is set
    (``inp_t``: input ``(Bi, N)`` at the observation time)."""
    out = np.full((state.shape[1], 4), np.nan)
    alive = np.nonzero(mask)[0]  # balanced blocks (see run_chunk)
    for i in prange(alive.size):
        _observe_member(np.int64(alive[i]), state, P, flags, fire, amp, ring, wk, wh, inp_t, out)
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def observe_all_serial(state, P, flags, fire, amp, ring, wk, wh, inp_t, mask):  # pragma: no cover
    """:func:`observe_all` on the calling thread only (releases the GIL)."""
    out = np.full((state.shape[1], 4), np.nan)
    for b in range(state.shape[1]):
        if mask[b]:
            _observe_member(b, state, P, flags, fire, amp, ring, wk, wh, inp_t, out)
    return out


@njit(cache=True, error_model="numpy")
def _observe_member(b, state, P, flags, fire, amp, ring, wk, wh, inp_t, out):  # pragma: no cover
    n = state.shape[2]
    g = np.empty((4, n))
    pr = P[b]
    _geometry(state[0, b], pr[0], flags[0], flags[1], ring, g[0], g[1], g[2], g[3])
    scratch = np.zeros((8, n))
    zh = np.zeros(n // 2 + 1, dtype=np.complex128)
    it = inp_t[b] if inp_t.shape[0] > 1 else inp_t[0]
    v, w, m, ph = _observe(state[0, b], state[1, b], state[2, b], state[3, b], g[0], g[1], g[2],
                           g[3], it, pr, fire, flags[0], flags[1], flags[2], amp, ring, wk, wh,
                           scratch, zh)
    out[b, 0] = v
    out[b, 1] = w
    out[b, 2] = m
    out[b, 3] = ph
