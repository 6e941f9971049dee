"""The sequential parts of openSMILE's pitch chain, compiled with numba (``cache=True``).

* :func:`viterbi_states` — cPitchSmootherViterbi: a 30-frame incremental Viterbi over the F0
  candidates plus an unvoiced state, with openSMILE's costs, including its running "last
  change" term (updated in the order openSMILE evaluates transitions) and its decisions
  (a frame is fixed once all survivor paths agree on it, forced from the best path when it
  is 30 frames old, the rest from the best final path);
* :func:`candidates` — cSpecScale + cPitchShs + cPitchBase: F0 candidates per frame.

cPitchJitter (jitter, shimmer, HNR) is in :mod:`emolab.features.voice_kernels`.

Only :mod:`emolab.features.pitch` imports this module, and only when voice-quality or pitch
columns are requested (numba costs about 0.3 s to import).
"""
from __future__ import annotations

import numpy as np
from numba import njit

SR = 44100
STEP = 441
FRAME = 2646


# ------------------------------------------------------------------------------ Viterbi

@njit(cache=True, error_model="numpy")
def _fweight(f):
    if 0.0 < f < 100.0:
        return 1.0 - f / 100.0
    if 100.0 <= f < 350.0:
        return 0.0
    if 350.0 <= f < 600.0:
        return (f - 350.0) / 250.0
    if f >= 600.0:
        return 1.2
    return 2.0


@njit(cache=True, error_model="numpy")
def _local(f0, voicing, t, i, k, cutoff):
    if i < k:
        pv = max(min(float(voicing[t, i]), 1.0), 0.01)
        thr = 4.0 if pv < cutoff else 0.0
        return (-np.log(pv) + thr) * 2.0 + _fweight(float(f0[t, i]))
    for j in range(k):
        if voicing[t, j] >= cutoff:
            return 8.0
    return 0.0


@njit(cache=True, error_model="numpy")
def viterbi_states(f0, voicing, cutoff, buflen):
    """Chosen state per frame (``k`` = unvoiced) of cPitchSmootherViterbi.

    Parameters
    ----------
    f0, voicing : np.ndarray, shape (n, k), float32
    cutoff : float
        Voicing threshold (0.7).
    buflen : int
        Decision buffer (30 frames).

    Returns
    -------
    np.ndarray, shape (n,), int64
    """
    n, k = f0.shape
    m = k + 1
    paths = np.zeros((2, m, buflen), np.int64)
    cost = np.zeros(m)
    new = np.zeros(m)
    best = np.zeros(n, np.int64)
    cur = 0
    conv = -1
    last_change = 1.0
    for t in range(n):
        if t == 0:
            for i in range(m):
                cost[i] = _local(f0, voicing, 0, i, k, cutoff)
                paths[cur, i, 0] = i
        else:
            nxt = 1 - cur
            for i in range(m):
                best_j = 0
                best_c = 0.0
                for j in range(m):
                    # transition from state j (previous frame) to state i (this frame)
                    if i < k and j < k:
                        fp = f0[t - 1, j]
                        fc = f0[t, i]
                        if fp == 0 or fc == 0:
                            tc = 999.0
                        else:
                            r = np.log(float(np.float32(fc / fp)))
                            tc = 10.0 * abs(r) + 10.0 * abs(r - last_change)
                            last_change = r
                    elif i == k and j == k:
                        tc = 1.0
                    else:
                        last_change = 0.0
                        tc = 10.0
                    c = tc + cost[j]
                    if j == 0 or c < best_c:
                        best_c = c
                        best_j = j
                new[i] = best_c + _local(f0, voicing, t, i, k, cutoff)
                for q in range(buflen):
                    paths[nxt, i, q] = paths[cur, best_j, q]
                paths[nxt, i, t % buflen] = i
            for i in range(m):
                cost[i] = new[i]
            cur = nxt
        path_idx = t + 1
        if path_idx - conv > buflen:
            s = 0
            for i in range(1, m):
                if cost[i] < cost[s]:
                    s = i
            conv += 1
            best[conv] = paths[cur, s, conv % buflen]
        else:
            q = conv + 1
            while q < path_idx:
                x = paths[cur, 0, q % buflen]
                same = True
                for i in range(1, m):
                    if paths[cur, i, q % buflen] != x:
                        same = False
                        break
                if not same:
                    break
                conv += 1
                best[conv] = x
                q += 1
    s = 0
    for i in range(1, m):
        if cost[i] < cost[s]:
            s = i
    for q in range(conv + 1, n):
        best[q] = paths[cur, s, q % buflen]
    return best


# ------------------------------------------------------------- spectrum -> F0 candidates

#: Frames processed side by side in :func:`candidates` (float64 lanes; 16 measured fastest among 8, 16, 24 and 32 on AVX-512).
NB = 16


@njit(cache=True, fastmath=True, error_model="numpy", nogil=True)
def candidates(mag, sig, pinv, dx, klo, ca, cb, cc2, cd, audw, shifts, fmin_t, step_t,
               min_pitch, max_pitch, n_cand, out_f0, out_voice):
    """cSpecScale + cPitchShs + cPitchBase per frame (rows of ``mag``).

    ``mag`` (n, nmag) FFT magnitudes (the first nmag bins); the spline tables (``sig``,
    ``pinv``, ``dx``: the natural spline's tridiagonal recursion over the nmag bins; ``klo``,
    ``ca``..``cd``: evaluation at the points of the octave axis, as many or fewer) and the
    auditory weights come from :func:`emolab.features.pitch._tables`.
    Writes the candidates (Hz, 0 = none; the best-scored first) and their voicing.

    Every step up to the subharmonic sum runs on :data:`NB` frames at once, frames side by side
    in the last axis (the spline recursions are sequential along frequency, so the frames are
    the vector lanes). Releases the GIL: blocks of frames can run in threads.
    """
    n, nmag = mag.shape
    nt = klo.shape[0]                        # points of the octave axis
    ym = np.empty((nmag, NB))
    fl = np.zeros((nmag + 4, NB), np.uint8)  # peak flags, 2 rows of padding each side
    yb = np.empty((nmag, NB))
    y2 = np.zeros((nmag, NB))
    u = np.zeros((nmag, NB))
    spb = np.empty((nt, NB), np.float32)
    ssb = np.empty((nt, NB), np.float32)
    sp_flat = spb.reshape(nt * NB)
    ss_flat = ssb.reshape(nt * NB)
    first = np.empty(NB, np.int64)
    rows = np.empty(NB, np.int64)
    means = np.empty(NB)
    last = np.empty(NB, np.int64)
    inv_dx = 1.0 / dx
    six_span = np.zeros(nmag)
    six_span[1:nmag - 1] = 6.0 / (dx[1:] + dx[:-1])
    back = (sig - 1.0) * pinv
    ss = np.empty(nt, np.float32)
    peaks = np.empty(nt, np.int64)
    cf = np.zeros(n_cand)
    cs = np.zeros(n_cand, np.float32)
    cv = np.zeros(n_cand)
    for r0 in range(0, n, NB):
        m_block = min(NB, n - r0)
        for q in range(NB):                  # a short last block repeats its last frame
            rows[q] = r0 + min(q, m_block - 1)
        for i in range(nmag):
            for q in range(NB):
                ym[i, q] = mag[rows[q], i]
        # specEnhance: zero the bins more than 2 away from the nearest peak on both sides,
        # when there is a peak on both sides
        for q in range(NB):
            fl[2, q] = ym[0, q] > ym[1, q]
            fl[nmag + 1, q] = ym[nmag - 1, q] > ym[nmag - 2, q]
        for i in range(1, nmag - 1):
            for q in range(NB):
                fl[i + 2, q] = (ym[i, q] > ym[i - 1, q]) & (ym[i, q] >= ym[i + 1, q])
        for q in range(NB):
            first[q] = nmag
            for i in range(nmag):
                if fl[i + 2, q]:
                    first[q] = i
                    break
            last[q] = -1
            for i in range(nmag - 1, -1, -1):
                if fl[i + 2, q]:
                    last[q] = i
                    break
        for i in range(nmag):
            for q in range(NB):
                near = fl[i, q] | fl[i + 1, q] | fl[i + 2, q] | fl[i + 3, q] | fl[i + 4, q]
                keep = (near != 0) | (i - 3 < first[q]) | (i + 3 > last[q])
                ym[i, q] = ym[i, q] if keep else 0.0
        # specSmooth: (a[i-1] + 2 a[i] + a[i+1]) / 4, the last bin kept
        for q in range(NB):
            yb[0, q] = (2.0 * ym[0, q] + ym[1, q]) / 4.0
            yb[nmag - 1, q] = ym[nmag - 1, q]
        for i in range(1, nmag - 1):
            for q in range(NB):
                yb[i, q] = (ym[i - 1, q] + 2.0 * ym[i, q] + ym[i + 1, q]) / 4.0
        # natural cubic spline (second derivatives) for the block, then evaluation
        for i in range(1, nmag - 1):
            for q in range(NB):
                d = (yb[i + 1, q] - yb[i, q]) * inv_dx[i] - (yb[i, q] - yb[i - 1, q]) * inv_dx[i - 1]
                u[i, q] = (d * six_span[i] - sig[i] * u[i - 1, q]) * pinv[i]
        for i in range(nmag - 2, 0, -1):
            for q in range(NB):
                y2[i, q] = back[i] * y2[i + 1, q] + u[i, q]
        for i in range(nt):
            k = klo[i]
            for q in range(NB):
                v = np.float32(ca[i] * yb[k, q] + cb[i] * yb[k + 1, q] + cc2[i] * y2[k, q]
                               + cd[i] * y2[k + 1, q])
                spb[i, q] = np.float32(v * audw[i]) if v > 0.0 else np.float32(0.0)
        # subharmonic summation: the spectrum shifted down by log2(h) octaves, weighted
        # 0.85^(h-1) (rows of NB lanes are contiguous: one flat loop per harmonic, reading a
        # view that starts at the shift: an index k + offset makes numba check for negative
        # indices, and the loop then compiles to gathers, twice as slow)
        for k in range(nt * NB):
            ss_flat[k] = sp_flat[k]
        scale = np.float32(0.85)
        for s in shifts:
            shifted = sp_flat[s * NB:]
            for k in range((nt - s) * NB):
                ss_flat[k] += shifted[k] * scale
            scale = np.float32(scale * np.float32(0.85))
        # scores (/ 15, never negative) and their mean per frame
        for q in range(NB):
            means[q] = 0.0
        for j in range(nt):
            for q in range(NB):
                v = ssb[j, q] / np.float32(15.0)
                v = v if v > 0 else np.float32(0.0)
                ssb[j, q] = v
                means[q] += v
        for b in range(m_block):
            for j in range(nt):
                ss[j] = ssb[j, b]
            _pick(ss, means[b] / nt, nt, peaks, cf, cs, cv, fmin_t, step_t, min_pitch, max_pitch,
                  n_cand, out_f0, out_voice, r0 + b)


@njit(cache=True, error_model="numpy", nogil=True)
def _pick(ss, mean, nt, peaks, cf, cs, cv, fmin_t, step_t, min_pitch, max_pitch, n_cand,
          out_f0, out_voice, r):
    """cPitchShs + cPitchBase for one frame: the candidates among the peaks of its scores ``ss``
    (mean ``mean``) into row ``r`` of the outputs."""
    # the n_cand highest peaks, in score order (openSMILE's insertion)
    for j in range(n_cand):
        cs[j] = 0.0
        cf[j] = 0.0
    npk = 0
    for i in range(1, nt - 1):
        peaks[npk] = i
        npk += 1 if (ss[i - 1] < ss[i]) & (ss[i] > ss[i + 1]) else 0
    got = 0
    for p in range(npk):
        i = peaks[p]
        if got == n_cand and not cs[n_cand - 1] < ss[i]:
            continue
        for j in range(n_cand):
            if cs[j] == 0.0 or cs[j] < ss[i]:
                for q in range(n_cand - 1, j, -1):
                    cs[q] = cs[q - 1]
                    cf[q] = cf[q - 1]
                cf[j] = i
                cs[j] = ss[i]
                if got < n_cand:
                    got += 1
                break
    # parabolic interpolation on the log axis, Hz, voicing
    for c in range(got):
        j = int(cf[c])
        # vertex of the parabola through the peak and its neighbours (bin units;
        # the bins are equally spaced on the log axis)
        y1, y2_, y3 = float(ss[j - 1]), float(ss[j]), float(ss[j + 1])
        den = y1 - 2.0 * y2_ + y3
        off = 0.5 * (y1 - y3) / den if den != 0.0 else 0.0
        sc = y2_ - 0.25 * (y1 - y3) * off if den != 0.0 else y2_
        x = (cf[c] + off) * step_t + fmin_t
        cf[c] = np.float32(np.exp(x * np.log(2.0)))
        cs[c] = np.float32(sc)
        cv[c] = np.float32(1.0 - mean / sc) if (sc > 0.0 and sc > mean) else 0.0
    for c in range(got, n_cand):
        cf[c] = 0.0
        cv[c] = 0.0
        cs[c] = 0.0
    # drop candidates outside the pitch range (keeping the order)
    m = 0
    for c in range(n_cand):
        if cf[c] >= min_pitch and cf[c] <= max_pitch:
            out_f0[r, m] = cf[c]
            out_voice[r, m] = cv[c]
            cs[m] = cs[c]
            m += 1
    for c in range(m, n_cand):
        out_f0[r, c] = 0.0
        out_voice[r, c] = 0.0
        cs[c] = 0.0
    # the highest score to the front
    top = 0
    for c in range(1, n_cand):
        if cs[c] > cs[top]:
            top = c
    if top > 0:
        tf = out_f0[r, 0]
        out_f0[r, 0] = out_f0[r, top]
        out_f0[r, top] = tf
        tv = out_voice[r, 0]
        out_voice[r, 0] = out_voice[r, top]
        out_voice[r, top] = tv
