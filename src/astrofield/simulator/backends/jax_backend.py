"""Backend ``"jax"``: the step of :class:`~astrofield.simulator.integrator.Simulator` as pure
array code, compiled by XLA and run inside ``jax.lax.scan`` on the default JAX device.

Same arithmetic as the numpy reference (:meth:`Simulator.step`; FFTs for the diffusion operators
and non-cosine kernels), written without data-dependent shapes: the sub-grid edge geometry is
computed for every grid interval and masked to the intervals where ``u - theta`` changes sign,
the conservative remap is an element-wise select. The batch is an array axis. All arithmetic is
float64 (``jax.enable_x64`` is switched on only while this backend runs).

The host is visited only between *blocks*: a block scans over the segments between stored frames
(each segment a ``fori_loop`` over its steps) and returns the observations of all its frames at
once. Without a stop rule the whole run is one block; with one, a block ends at every stop check
(``stop_every`` time units, a few hundred steps), where the rule is evaluated on the observations
already computed on the device. Decided and failed members are masked (frozen), not removed, so
the compiled shapes never change.

Supported: Heaviside firing with sub-grid quadrature and sigmoid firing, cosine and other
kernels, uniform ``D`` (``inf`` allowed), stop rules. Not supported (use ``"numba"``):
heterogeneous ``D(x)``, noise, stimuli, grid quadrature, trackers, schedules.
"""

from __future__ import annotations

import functools

import numpy as np

from astrofield.simulator import compiled as _accel
from astrofield.simulator.scheme import flux_ends
from astrofield.simulator.step_control import limit_negative_a

__all__ = ["integrate"]


def _jax():
    import jax
    import jax.numpy as jnp

    return jax, jnp


def _edges(u, th, x, dx, cell_cos, cell_sin):
    """Sub-grid geometry ``(phi, mc, ms, m1)`` of ``{u > th}`` without data-dependent shapes."""
    _, jnp = _jax()
    v = u - th
    above = v > 0
    phi = above.astype(u.dtype)
    mc = phi * cell_cos
    ms = phi * cell_sin
    m1 = jnp.zeros_like(u)
    v0, v1 = v, jnp.roll(v, -1, axis=-1)
    cross = above != jnp.roll(above, -1, axis=-1)  # sign change between k and k + 1
    # the interpolant of Ring.edges: monomial coefficients from the stencil values around k
    vals = [jnp.roll(v, -int(i), axis=-1) for i in _accel.STENCIL]
    coef = [sum(float(_accel.VINV[j, i]) * vals[i] for i in range(len(vals)))
            for j in range(len(vals))]
    s = v0 / jnp.where(cross, v0 - v1, 1.0)
    for _ in range(4):
        p, dp = coef[-1], jnp.zeros_like(s)
        for c in coef[-2::-1]:
            dp = dp * s + p
            p = p * s + c
        s = s - p / jnp.where(dp == 0, 1.0, dp)
    s = jnp.clip(jnp.where(cross, s, 0.0), 0.0, 1.0)
    xi = x + s * dx
    nxt = s >= 0.5
    xc = x + jnp.where(nxt, dx, 0.0)
    lo = jnp.where(above, xc - dx / 2, xi)  # falling edge (active on the left) or rising
    hi = jnp.where(above, xi, xc + dx / 2)
    vals = ((hi - lo) / dx, jnp.sin(hi) - jnp.sin(lo), jnp.cos(lo) - jnp.cos(hi),
            0.5 * ((hi - xc) ** 2 - (lo - xc) ** 2))
    here = cross & ~nxt  # the edge cell is k
    there = jnp.roll(cross & nxt, 1, axis=-1)  # the edge cell is k + 1 (seen from k + 1)
    out = []
    for base, val in zip((phi, mc, ms, m1), vals, strict=True):
        out.append(jnp.where(here, val, jnp.where(there, jnp.roll(val, 1, axis=-1), base)))
    return tuple(out)


def _relax(q, k, s, h):
    _, jnp = _jax()
    z = -k * h
    small = jnp.abs(z) < 1e-8
    em = jnp.expm1(z)
    p1 = jnp.where(small, 1.0 + 0.5 * z, em / jnp.where(small, 1.0, z))
    return q * (em + 1.0) + s * h * p1


def _remap(qi, qo, po, pn):
    _, jnp = _jax()
    gain = pn - po
    qi_new = jnp.where(gain > 0, (po * qi + gain * qo) / jnp.where(gain > 0, pn, 1.0), qi)
    qo_new = jnp.where(gain < 0, ((1 - po) * qo - gain * qi) / jnp.where(gain < 0, 1 - pn, 1.0),
                       qo)
    return qi_new, qo_new


def _constants(sim, h: float) -> tuple[tuple, dict]:
    """Static configuration (hashable: selects the compiled function) and the arrays."""
    r = sim.ring
    static = (bool(sim.heaviside), bool(sim.cosine), int(r.N), float(h), float(np.exp(-h)),
              float(sim.kernel_amp), float(r.dx), sim.firing)
    arrs = {"x": r.x, "cos": r.cos, "sin": r.sin, "cell_cos": r.cell_cos,
            "cell_sin": r.cell_sin}
    if not sim.cosine:
        arrs["w_hat"], arrs["dw_hat"] = sim.kernel_table.w_hat, sim.kernel_table.dw_hat
    for name, o in zip(("e", "p1", "p2"), sim.diffusion_operators(h), strict=True):
        arrs[name] = np.broadcast_to(o, (sim.B, o.shape[-1])).copy()
    for k in ("theta", "beta", "gamma", "tau", "steepness"):
        arrs[k] = np.asarray(sim.params[k], dtype=float)
    return static, arrs


class _Step:
    """The pure step function and observables (``static``: configuration, ``a``: arrays, which
    are tracers inside the compiled functions)."""

    def __init__(self, static: tuple, a: dict) -> None:
        self.heav, self.cosine, self.N, self.h, self.E, self.amp, self.dx, firing = static
        self.fire = None if self.heav else firing.jax_function()
        self.x, self.cos, self.sin = a["x"], a["cos"], a["sin"]
        self.cell_cos, self.cell_sin = a["cell_cos"], a["cell_sin"]
        if not self.cosine:
            self.w_hat, self.dw_hat = a["w_hat"], a["dw_hat"]
        self.ops = (a["e"], a["p1"], a["p2"])
        self.th, self.be, self.ga, self.ta, self.st = (a[k] for k in (
            "theta", "beta", "gamma", "tau", "steepness"))

    def geometry(self, u):
        _, jnp = _jax()
        if self.heav:
            return _edges(u, self.th, self.x, self.dx, self.cell_cos, self.cell_sin)
        z = jnp.zeros_like(u)
        return z, z, z, z

    def firing_out(self, u):
        _, jnp = _jax()
        if self.heav:
            return jnp.zeros_like(u)
        return self.fire(u, self.th, self.st)

    def drive(self, g, qi, qo, fo):
        _, jnp = _jax()
        phi, mc, ms, m1 = g
        if self.cosine:
            if self.heav:
                C, S = jnp.sum(qi * mc, -1), jnp.sum(qi * ms, -1)
            else:
                v = qo * fo * self.dx
                C, S = v @ self.cos, v @ self.sin
            return self.amp * (C[:, None] * self.cos + S[:, None] * self.sin)
        fft = jnp.fft
        if self.heav:
            out = fft.irfft(self.w_hat * fft.rfft(qi * phi * self.dx, axis=-1), n=self.N)
            return out - fft.irfft(self.dw_hat * fft.rfft(qi * m1, axis=-1), n=self.N)
        return fft.irfft(self.w_hat * fft.rfft(qo * fo * self.dx, axis=-1), n=self.N)

    def astro(self, a, Js, Je):
        """``e^{hL} a + h phi1(hL) Js + h phi2(hL) (Je - Js)`` (``Simulator.astro_update``)."""
        _, jnp = _jax()
        e, p1, p2 = self.ops
        rfft = functools.partial(jnp.fft.rfft, axis=-1)
        js = rfft(Js)
        out = e * rfft(a) + (self.h * p1) * js + (self.h * p2) * (rfft(Je) - js)
        return jnp.fft.irfft(out, n=self.N)

    def step(self, u, qi, qo, a):
        """One step of :meth:`Simulator.step` (no input, no noise), with its safeguards for a
        stiff exchange (``z = h k > 1`` somewhere in the batch, as the numpy step decides):
        ``a >= 0`` in the rates, the damped flux slope, and the limiter that keeps ``a >= 0``
        (:mod:`astrofield.simulator.scheme`)."""
        jax, jnp = _jax()
        h, E, be, ga, ta = self.h, self.E, self.be, self.ga, self.ta
        e, p1, p2 = self.ops
        g0 = self.geometry(u)
        phi0 = g0[0]
        fo0 = self.firing_out(u)
        N0 = self.drive(g0, qi, qo, fo0)
        u1 = E * u + (1.0 - E) * N0
        a0p = jnp.maximum(a, 0.0)  # a >= 0 in the rates (see scheme.smooth_step)
        s0 = ga * a0p / ta
        if self.heav:
            J0 = (be * qi * phi0 - ga * a0p * (1.0 - (phi0 * qi + (1 - phi0) * qo))) / ta
            qi_p, qo_p = _relax(qi, s0 + be / ta, s0, h), _relax(qo, s0, s0, h)
            z0 = h * (s0 + be * phi0 / ta)
            dq_p = phi0 * (qi_p - qi) + (1 - phi0) * (qo_p - qo)
        else:
            J0 = (be * qo * fo0 - ga * a0p * (1.0 - qo)) / ta
            qi_p, qo_p = qi, _relax(qo, s0 + be * fo0 / ta, s0, h)
            z0 = h * (s0 + be * fo0 / ta)
            dq_p = qo_p - qo
        stiff = z0 > 1.0
        any_stiff = jnp.any(stiff)
        j0 = jnp.fft.rfft(J0, axis=-1)
        base = e * jnp.fft.rfft(a, axis=-1) + (h * p1) * j0

        def predictor_stiff(_):
            Js, Je = flux_ends(J0, -dq_p / h, z0, jnp)
            a_p = self.astro(a, Js, jnp.where(stiff, Je, J0))
            return jnp.where(stiff, jnp.maximum(a_p, 0.0), a_p)

        a_p = jax.lax.cond(any_stiff, predictor_stiff,
                           lambda _: jnp.fft.irfft(base, n=self.N), None)
        g1 = self.geometry(u1)
        fo1 = self.firing_out(u1)
        if self.heav:
            qi_p, qo_p = _remap(qi_p, qo_p, phi0, g1[0])
        N1 = self.drive(g1, qi_p, qo_p, fo1)
        u_new = u1 + ((E - 1.0 + h) / h) * (N1 - N0)
        sb = ga * 0.5 * jnp.maximum(a + a_p, 0.0) / ta
        if self.heav:
            phim = 0.5 * (phi0 + g1[0])
            qi_m, qo_m = _remap(qi, qo, phi0, phim)
            qi_n, qo_n = _relax(qi_m, sb + be / ta, sb, h), _relax(qo_m, sb, sb, h)
            dq = phim * (qi_n - qi_m) + (1 - phim) * (qo_n - qo_m)
        else:
            qo_n = _relax(qo, sb + be * (0.5 * (fo0 + fo1)) / ta, sb, h)
            qi_m = qo_m = qo
            qi_n, phim = qo_n, 1.0
            dq = qo_n - qo

        def corrector_plain(_):
            J1 = 2.0 * (-dq / h) - J0
            return jnp.fft.irfft(base + (h * p2) * (jnp.fft.rfft(J1, axis=-1) - j0), n=self.N)

        a_n = jax.lax.cond(any_stiff, lambda _: self.astro(a, *flux_ends(J0, -dq / h, z0, jnp)),
                           corrector_plain, None)
        a_n, qi_n, qo_n = limit_negative_a(a_n, qi_n, qo_n, qi_m, qo_m, phim, jnp)
        if self.heav:
            qi_n, qo_n = _remap(qi_n, qo_n, phim, self.geometry(u_new)[0])
        else:
            qo_n = qi_n  # the limited q (both parts are the same for smooth firing)
        return u_new, qi_n, qo_n, a_n

    def phase(self, u):
        _, jnp = _jax()
        return jnp.arctan2((u * self.sin).sum(-1) * self.dx, (u * self.cos).sum(-1) * self.dx)

    def observe(self, u, qi, qo, a):
        """``(velocity, width, mass)`` per member, as ``_observe_numpy`` computes them."""
        _, jnp = _jax()
        g = self.geometry(u)
        du = -u + self.drive(g, qi, qo, self.firing_out(u))
        c, s = (u * self.cos).sum(-1) * self.dx, (u * self.sin).sum(-1) * self.dx
        dc, ds = (du * self.cos).sum(-1) * self.dx, (du * self.sin).sum(-1) * self.dx
        vel = (c * ds - s * dc) / jnp.maximum(c * c + s * s, 1e-300)
        phi = g[0] if self.heav else _edges(u, self.th, self.x, self.dx, self.cell_cos,
                                           self.cell_sin)[0]
        q = g[0] * qi + (1.0 - g[0]) * qo
        return vel, phi.sum(-1) * (2 * np.pi / self.N), (q + a).sum(-1) * self.dx


@functools.lru_cache(maxsize=64)
def _block_fn(static: tuple, dt: float, store: bool):
    """Compiled ``block(arrs, n0, carry, ends) -> (carry, (obs, fields))``: a scan over the
    segments ending at the steps ``ends``, one ``fori_loop`` over the steps of each."""
    jax, jnp = _jax()

    def block(arrs, n0, carry, ends):
        stepper = _Step(static, arrs)

        def one(n, carry):
            u, qi, qo, a, pos, last, running, failed, t_failed = carry
            new = stepper.step(u, qi, qo, a)
            ok = functools.reduce(jnp.logical_and, [jnp.isfinite(v).all(-1) for v in new])
            newly = running & ~ok
            failed = failed | newly
            t_failed = jnp.where(newly, (n + 1) * dt, t_failed)
            running = running & ok
            keep = running[:, None]
            u, qi, qo, a = (jnp.where(keep, nv, ov) for nv, ov in zip(new, (u, qi, qo, a),
                                                                       strict=True))
            ph = stepper.phase(u)
            pos = jnp.where(running, pos + (ph - last + np.pi) % (2 * np.pi) - np.pi, pos)
            last = jnp.where(running, ph, last)
            return u, qi, qo, a, pos, last, running, failed, t_failed

        def segment(state, end):
            n0, carry = state
            carry = jax.lax.fori_loop(n0, end, one, carry)
            u, qi, qo, a = carry[:4]
            vel, width, mass = stepper.observe(u, qi, qo, a)
            out = jnp.stack([carry[4], vel, width, mass])
            if store:
                phi = stepper.geometry(u)[0]
                return (end, carry), (out, jnp.stack([u, phi * qi + (1.0 - phi) * qo, a]))
            return (end, carry), (out, jnp.zeros(0))

        (_, carry), obs = jax.lax.scan(segment, (n0, carry), ends)
        return carry, obs

    return jax.jit(block)


@functools.lru_cache(maxsize=64)
def _observe_fn(static: tuple):
    jax, _ = _jax()
    return jax.jit(lambda arrs, u, qi, qo, a: _Step(static, arrs).observe(u, qi, qo, a))


def integrate(run) -> None:
    """Backend ``"jax"``: see the module docstring."""
    jax, jnp = _jax()
    with _x64(jax):
        _integrate(run, jax, jnp)


def _x64(jax):
    """Context manager switching on float64 for the duration of the run only."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64()


def _segments(run) -> list[np.ndarray]:
    """Segment end steps (frames and stop checks), split into blocks at the stop checks."""
    ends = set(int(f) for f in run.frames[1:])
    stops: list[int] = []
    if run.stop_rule is not None:
        stops = list(range(run.stop_stride, run.n_steps, run.stop_stride))
    ends = np.array(sorted(ends | set(stops)), dtype=np.int64)
    cuts = np.searchsorted(ends, stops, side="right")
    return [b for b in np.split(ends, cuts) if b.size]


def _integrate(run, jax, jnp) -> None:
    sim, st, B = run.sim, run.state, run.sim.B
    static, arrs = _constants(sim, run.dt)
    arrs = {k: jnp.asarray(v) for k, v in arrs.items()}
    block = _block_fn(static, float(run.dt), run.fields is not None)
    pos0 = jnp.asarray(run.pos0)
    carry = (jnp.asarray(st.u), jnp.asarray(st.q_in), jnp.asarray(st.q_out), jnp.asarray(st.a),
             pos0, pos0, jnp.ones(B, bool), jnp.zeros(B, bool), jnp.full(B, np.nan))
    obs0 = np.asarray(jnp.stack([pos0, *_observe_fn(static)(arrs, *carry[:4])]))
    frame_index = {int(s): i for i, s in enumerate(run.frames)}
    _store(run, 0, obs0, np.ones(B, bool), np.stack([st.u, st.q, st.a]))
    n0 = 0
    for ends in _segments(run):
        was_running = np.asarray(carry[6])
        carry, (obs, flds) = block(arrs, n0, carry, jnp.asarray(ends))
        obs, flds = np.asarray(obs), np.asarray(flds)  # one transfer per block
        for k, e in enumerate(ends):
            if int(e) in frame_index:
                _store(run, frame_index[int(e)], obs[k], was_running,
                       flds[k] if run.fields is not None else None)
        n0 = int(ends[-1])
        running = np.asarray(carry[6]) & was_running
        if run.stop_rule is not None and n0 < run.n_steps and running.any():
            running = _stop(run, n0 * run.dt, obs[-1], running)
            carry = carry[:6] + (jnp.asarray(running),) + carry[7:]
        if not running.any():
            break
    run.failed[:] = np.asarray(carry[7])
    run.t_failed[:] = np.asarray(carry[8])
    live = np.asarray(carry[6])
    if live.any():
        _finalize(run, np.nonzero(live)[0], obs[-1])


def _store(run, i: int, obs: np.ndarray, mask: np.ndarray, flds) -> None:
    for j, k in enumerate(("position", "velocity", "width", "mass")):
        run.rec[k][mask, i] = obs[j][mask]
    if run.fields is not None and flds is not None:
        for j, k in enumerate("uqa"):
            run.fields[k][mask, i] = flds[j][mask]


def _finalize(run, idx: np.ndarray, obs: np.ndarray) -> None:
    for j, k in enumerate(("position", "velocity", "width", "mass")):
        run.final[k][idx] = obs[j][idx]


def _stop(run, t: float, obs: np.ndarray, running: np.ndarray) -> np.ndarray:
    alive = np.nonzero(running)[0]
    decided = np.asarray(run.stop_rule(t, obs[0][alive] - run.pos0[alive], obs[1][alive],
                                       obs[2][alive], alive.copy()), dtype=bool)
    if np.any(decided):
        idx = alive[decided]
        _finalize(run, idx, obs)
        run.final["t_final"][idx] = t
        running = running.copy()
        running[idx] = False
    return running
