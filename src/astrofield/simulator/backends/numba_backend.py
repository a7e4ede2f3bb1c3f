"""Driver of the compiled time loop (backend ``"numba"``): packs a
:class:`~astrofield.simulator.integrator.Run` into flat arrays, calls
:func:`.numba_loop.run_chunk` between the points where Python must act (stop-rule checks,
precomputed stimulus and noise blocks, progress), and unpacks the results.
"""

from __future__ import annotations

import threading

import numpy as np

from astrofield.simulator.backends import numba_loop as _loop
from astrofield.simulator.backends import warm as _warm

__all__ = ["integrate", "pack"]

#: Bytes of precomputed stimulus / noise per chunk (bounds the chunk length).
CHUNK_BYTES = 32 * 2**20


def pack(run) -> dict:
    """Flat float64 / int64 arrays of the simulator for the compiled loop."""
    sim = run.sim
    ring, N, B = sim.ring, sim.ring.N, sim.B
    P = np.stack([np.broadcast_to(sim.params[k][:, 0], (B,)) for k in
                  ("theta", "beta", "gamma", "tau", "steepness")], axis=1).astype(float)
    flags = np.array([sim.heaviside, sim.quadrature == "subgrid", sim.cosine,
                      sim.D_field is not None, bool(sim.stimulus), run.store_fields],
                     dtype=np.int64)
    if sim.cosine:
        wk = np.zeros((2, 2 * N))
        wh = np.zeros((2, N // 2 + 1), dtype=complex)
    else:
        kt = sim.kernel_table
        wk = np.stack([np.tile(kt.w, 2), np.tile(kt.dw, 2)])
        wh = np.ascontiguousarray(np.stack([kt.w_hat, kt.dw_hat]).astype(complex))
    fire = sim.firing.numba_function()
    if fire is None:
        raise ValueError(f"backend = 'numba' cannot evaluate firing = {sim.firing.describe()}: "
                         f"{sim.firing.numba_error}; use backend='numpy'")
    return dict(P=np.ascontiguousarray(P), flags=flags, fire=fire, amp=float(sim.kernel_amp),
                ring=ring.table, wk=wk, wh=wh, ops=_diffusion_multipliers(sim, run.dt))


def _diffusion_multipliers(sim, h: float) -> np.ndarray:
    """``e^{hL}, phi1(hL), phi2(hL)`` as real Fourier multipliers ``(B, 3, 1, N // 2 + 1)``
    (uniform ``D``) or transposed dense matrices ``(1, 3, N, N)`` (heterogeneous ``D``).

    The mean-mode multipliers are set to exactly ``1, 1, 1/2`` (the values of ``e^0``,
    ``phi1(0)``, ``phi2(0)``), so the products change the total of ``a`` by exactly
    ``h (J0 + J1) / 2`` summed over the ring and the total resource is conserved to round-off.
    """
    ops = sim.diffusion_operators(h)
    B = sim.B
    if sim.D_field is not None:
        return np.ascontiguousarray(np.stack([M.T for M in ops])[None])
    out = np.empty((B, 3, 1, ops[0].shape[-1]))
    for i, (mult, mean) in enumerate(zip(ops, (1.0, 1.0, 0.5), strict=True)):
        out[:, i, 0] = np.broadcast_to(mult, (B, mult.shape[-1]))
        out[:, i, 0, 0] = mean
    return out


def _state_array(st) -> np.ndarray:
    return np.ascontiguousarray(np.stack([st.u, st.q_in, st.q_out, st.a]).astype(float))


def _inputs(sim, n0: int, n1: int, dt: float) -> np.ndarray:
    """Stimulus at the start, end and frame time of steps ``n0 + 1 .. n1``: ``(3, K, B, N)``
    (times computed exactly as the numpy loop computes them)."""
    B, N = sim.B, sim.ring.N
    out = np.empty((3, n1 - n0, B, N))
    for k, n in enumerate(range(n0 + 1, n1 + 1)):
        t = (n - 1) * dt
        for i, tt in enumerate((t, t + dt, n * dt)):
            out[i, k] = np.broadcast_to(sim.input(tt), (B, N))
    return out


def _noise(sim, n0: int, n1: int, dt: float) -> np.ndarray:
    if sim.draw_noise is None:
        return np.zeros((1, 1, sim.ring.N))
    return np.stack([sim.draw_noise(dt) for _ in range(n0, n1)])


#: Element-steps (members x grid points x steps) of work per progress-bar update at least.
PROGRESS_WORK = 4_000_000


def _boundaries(run) -> list[int]:
    """Steps at which the compiled loop returns to Python."""
    sim, n = run.sim, run.n_steps
    stride = n
    if sim.stimulus or sim.draw_noise is not None:
        stride = max(1, int(CHUNK_BYTES // (3 * 8 * sim.B * sim.ring.N)))
    if run.progress is not False:  # about 20 bar updates, each after enough work
        stride = min(stride, max(-(-n // 20), -(-PROGRESS_WORK // (sim.B * sim.ring.N))))
    stops = set(range(stride, n, stride)) | {n}
    if run.stop_rule is not None:
        stops |= set(range(run.stop_stride, n, run.stop_stride))
    return sorted(stops)


def _parallel(B: int) -> bool:
    """Spread members over threads only when there are several (a parallel region costs a
    thread hand-over, which on a loaded machine can be a scheduler time slice), and only when
    called on the main thread. A call from any other thread is one task among several that the
    caller already runs concurrently, one per core (the ``"threads"`` sweep executor, the task
    threads of a dask worker, a thread pool of the user's): it runs its members on that thread,
    with the GIL released, instead of nesting a second team of threads over the same cores."""
    return B >= 2 and threading.current_thread() is threading.main_thread()


#: Fewest ``B * N`` values for which an observation (velocity, width, mass of every member:
#: a few passes over the state, microseconds per member) is spread over threads. Below it the
#: parallel region's hand-over costs more than the work: on a loaded machine a scheduler time
#: slice (measured: 6 ms per call at B 25, N 64, load 2, a quarter of a map's time).
OBSERVE_PARALLEL_MIN = 1 << 16


def _observe(run, arr, pk, t: float, mask) -> np.ndarray:
    sim = run.sim
    inp = np.broadcast_to(sim.input(t), (sim.B, sim.ring.N)).astype(float)
    parallel = _parallel(sim.B) and sim.B * sim.ring.N >= OBSERVE_PARALLEL_MIN
    fn = _loop.observe_all if parallel else _loop.observe_all_serial
    args = (arr, pk["P"], pk["flags"], pk["fire"], pk["amp"], pk["ring"], pk["wk"], pk["wh"],
            np.ascontiguousarray(inp), mask)
    _warm.ready(fn, args)  # compiles (after a notice) here if the cache does not hold it
    return fn(*args)


def integrate(run) -> None:
    """Backend ``"numba"``: see :mod:`astrofield.simulator.backends`."""
    sim, dt, B = run.sim, run.dt, run.sim.B
    pk = pack(run)
    arr = _state_array(run.state)
    running = np.ones(B, dtype=np.bool_)
    pos, last = run.pos0.copy(), run.pos0.copy()
    rec = np.full((4, B, run.frames.size), np.nan)
    fields = (np.full((3, B, run.frames.size, sim.ring.N), np.nan) if run.store_fields
              else np.zeros((3, 1, 1, 1)))
    obs = _observe(run, arr, pk, 0.0, running)
    rec[:, :, 0] = np.stack([pos, obs[:, 0], obs[:, 1], obs[:, 2]])
    if run.store_fields:
        fields[:, :, 0] = [run.state.u, run.state.q, run.state.a]
    frame_of = run.frame_of()
    E = float(np.exp(-dt))
    chunk = _loop.run_chunk if _parallel(B) else _loop.run_chunk_serial
    # compiled (after a one-line notice) or loaded now, so that no progress bar hides a compile;
    # the placeholders have the types of every chunk's stimulus and noise blocks
    _warm.ready(chunk, (0, 0, dt, E, frame_of, arr, pk["P"], pk["flags"], pk["fire"], pk["amp"],
                        pk["ring"], pk["wk"], pk["wh"], pk["ops"],
                        np.zeros((3, 1, 1, sim.ring.N)), np.zeros((1, 1, sim.ring.N)), running,
                        pos, last, rec, fields, run.failed, run.t_failed))
    bar = run.progress_bar()
    n0 = 0
    for n1 in _boundaries(run):
        inp = (_inputs(sim, n0, n1, dt) if sim.stimulus else np.zeros((3, 1, 1, sim.ring.N)))
        chunk(n0, n1, dt, E, frame_of, arr, pk["P"], pk["flags"], pk["fire"], pk["amp"], pk["ring"],
              pk["wk"], pk["wh"], pk["ops"], inp, _noise(sim, n0, n1, dt), running, pos, last, rec,
              fields, run.failed, run.t_failed)
        bar.update(n1 - n0)
        n0 = n1
        if not running.any():
            break
        if run.stop_rule is not None and n1 % run.stop_stride == 0 and n1 < run.n_steps:
            _stop(run, arr, pk, n1 * dt, running, pos)
    bar.close()
    if running.any():
        obs = _observe(run, arr, pk, run.n_steps * dt, running)
        _finalize(run, np.nonzero(running)[0], pos, obs)
    for i, k in enumerate(("position", "velocity", "width", "mass")):
        run.rec[k][...] = rec[i]
    if run.store_fields:
        for i, k in enumerate("uqa"):
            run.fields[k][...] = fields[i]


def _finalize(run, idx, pos, obs) -> None:
    run.final["position"][idx] = pos[idx]
    for i, k in enumerate(("velocity", "width", "mass")):
        run.final[k][idx] = obs[idx, i]


def _stop(run, arr, pk, t: float, running, pos) -> None:
    alive = np.nonzero(running)[0]
    obs = _observe(run, arr, pk, t, running)
    decided = np.asarray(run.stop_rule(t, pos[alive] - run.pos0[alive], obs[alive, 0],
                                       obs[alive, 1], alive.copy()), dtype=bool)
    if np.any(decided):
        idx = alive[decided]
        _finalize(run, idx, pos, obs)
        run.final["t_final"][idx] = t
        running[idx] = False
