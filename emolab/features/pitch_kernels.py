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

@njit(cache=True, fastmath=True, error_model="numpy")
def candidates(mag, sig, pinv, dx, klo, ca, cb, cc2, cd, audw, shifts, fmin_t, step_t,
               min_pitch, max_pitch, n_cand, out_f0, out_voice):
    """cSpecScale + cPitchShs + cPitchBase per frame (rows of ``mag``).

    ``mag`` (n, nmag) FFT magnitudes (the first nmag bins); the spline tables (``sig``,
    ``pinv``, ``dx``: the natural spline's tridiagonal recursion over the nmag bins; ``klo``,
    ``ca``..``cd``: evaluation at the points of the octave axis, as many or fewer) and the auditory weights come from :func:`emolab.features.pitch._tables`.
    Writes the candidates (Hz, 0 = none; the best-scored first) and their voicing.
    """
    n, nmag = mag.shape
    nt = klo.shape[0]                        # points of the octave axis
    nb = 8                                   # frames side by side (the spline recursions
    y = np.empty(nmag)                       # are sequential along frequency)
    yb = np.empty((nmag, nb))
    y2 = np.zeros((nmag, nb))
    u = np.zeros((nmag, nb))
    spb = np.empty((nt, nb), np.float32)
    ssb = np.empty((nt, nb), np.float32)
    inv_dx = 1.0 / dx
    six_span = np.zeros(nmag)
    six_span[1:nmag - 1] = 6.0 / (dx[1:] + dx[:-1])
    back = (sig - 1.0) * pinv
    ss = np.empty(nt, np.float32)
    flag = np.empty(nmag, np.uint8)
    prevpk = np.empty(nmag, np.int64)
    peaks = np.empty(nt, np.int64)
    cf = np.zeros(n_cand)
    cs = np.zeros(n_cand, np.float32)
    cv = np.zeros(n_cand)
    for r in range(n):
        b = r % nb
        if b == 0:
            m_block = min(nb, n - r)
            for q in range(m_block):
                for i in range(nmag):
                    y[i] = mag[r + q, i]
                # specEnhance: zero the bins between two peaks, more than 2 bins away from both
                flag[0] = 1 if y[0] > y[1] else 0
                for i in range(1, nmag - 1):
                    flag[i] = 1 if (y[i] > y[i - 1]) & (y[i] >= y[i + 1]) else 0
                flag[nmag - 1] = 1 if y[nmag - 1] > y[nmag - 2] else 0
                last = -1
                for i in range(nmag):
                    last = i if flag[i] else last
                    prevpk[i] = last
                nxt = nmag
                for i in range(nmag - 1, -1, -1):
                    nxt = i if flag[i] else nxt
                    if prevpk[i] >= 0 and i - prevpk[i] >= 3 and nxt < nmag and nxt - i >= 3:
                        y[i] = 0.0
                # specSmooth: (a[i-1] + 2 a[i] + a[i+1]) / 4, the last bin kept
                prev = 0.0
                for i in range(nmag - 1):
                    cur = y[i]
                    yb[i, q] = (prev + 2.0 * cur + y[i + 1]) / 4.0
                    prev = cur
                yb[nmag - 1, q] = y[nmag - 1]
            # natural cubic spline (second derivatives) for the block, then evaluation
            for i in range(1, nmag - 1):
                for q in range(nb):
                    d = (yb[i + 1, q] - yb[i, q]) * inv_dx[i] - (yb[i, q] - yb[i - 1, q]) * inv_dx[i - 1]
                    u[i, q] = (d * six_span[i] - sig[i] * u[i - 1, q]) * pinv[i]
            for i in range(nmag - 2, 0, -1):
                for q in range(nb):
                    y2[i, q] = back[i] * y2[i + 1, q] + u[i, q]
            for i in range(nt):
                k = klo[i]
                for q in range(nb):
                    v = np.float32(ca[i] * yb[k, q] + cb[i] * yb[k + 1, q] + cc2[i] * y2[k, q]
                                   + cd[i] * y2[k + 1, q])
                    spb[i, q] = np.float32(v * audw[i]) if v > 0.0 else np.float32(0.0)
            # subharmonic summation: the spectrum shifted down by log2(h) octaves, weighted 0.85^(h-1)
            for i in range(nt):
                for q in range(nb):
                    ssb[i, q] = spb[i, q]
            scale = np.float32(0.85)
            for s in shifts:
                for j in range(s, nt):
                    for q in range(nb):
                        ssb[j - s, q] += spb[j, q] * scale
                scale = np.float32(scale * np.float32(0.85))
        mean = 0.0
        for j in range(nt):
            ss[j] = ssb[j, b] / np.float32(15.0)
            if ss[j] < 0:
                ss[j] = 0.0
            mean += ss[j]
        mean /= nt
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
        b = 0
        for c in range(1, n_cand):
            if cs[c] > cs[b]:
                b = c
        if b > 0:
            tf = out_f0[r, 0]
            out_f0[r, 0] = out_f0[r, b]
            out_f0[r, b] = tf
            tv = out_voice[r, 0]
            out_voice[r, 0] = out_voice[r, b]
            out_voice[r, b] = tv
