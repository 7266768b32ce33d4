"""REINFORCE with a recurrent controller (Zoph & Le, ICLR 2017), in numpy with hand-written backprop."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import Genome
from ..trial import Trial, TrialState
from .base import Strategy

__all__ = ["LSTMPolicy", "RLController"]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z - z.max()
    return m - math.log(float(np.exp(m).sum()))


class LSTMPolicy:
    """An LSTM that emits one categorical choice per decision, feeding each choice back as the next input.

    Step ``t`` reads the embedding of the choice made at step ``t-1`` (a learned start vector at
    step 0), updates a single-layer LSTM state of ``hidden_size`` units and turns the hidden state
    into logits over decision ``t``'s choices with its own linear head. Every decision has its own
    embedding table and head, since decisions differ in meaning and number of choices.

    All parameters live in one float64 vector :attr:`theta` (so that an optimiser and a state dict
    see a single array); :meth:`views` slices it into named matrices.

    Parameters
    ----------
    num_choices : sequence of int
        Choices of each decision, in the order they are emitted (each >= 1).
    hidden_size : int
        LSTM units, also the embedding width.
    """

    def __init__(self, num_choices: Sequence[int], hidden_size: int) -> None:
        self.num_choices = [int(n) for n in num_choices]
        if not self.num_choices:
            raise ValueError("a controller needs at least one decision, got none")
        for t, n in enumerate(self.num_choices):
            if n < 1:
                raise ValueError(f"decision {t} has {n} choices; every decision needs at least 1")
        if isinstance(hidden_size, bool) or int(hidden_size) != hidden_size or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        self.hidden_size = h = int(hidden_size)
        layout: list[tuple[str, tuple[int, ...]]] = [("start", (h,)), ("wx", (h, 4 * h)), ("wh", (h, 4 * h)),
                                                     ("b", (4 * h,))]
        for t, n in enumerate(self.num_choices):
            if t + 1 < len(self.num_choices):  # the last choice is never fed back
                layout.append((f"emb{t}", (n, h)))
            layout += [(f"out{t}", (h, n)), (f"outb{t}", (n,))]
        self._layout: list[tuple[str, int, tuple[int, ...]]] = []
        pos = 0
        for name, shape in layout:
            self._layout.append((name, pos, shape))
            pos += math.prod(shape)
        self.num_params = pos
        self.theta = np.zeros(pos)
        self._v = self.views(self.theta)

    def views(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Named, reshaped views into a flat vector laid out like :attr:`theta` (parameters or gradients)."""
        if vector.shape != (self.num_params,):
            raise ValueError(f"expected a vector of {self.num_params} parameters, got shape {vector.shape}")
        return {name: vector[pos : pos + math.prod(shape)].reshape(shape) for name, pos, shape in self._layout}

    def set_theta(self, theta: np.ndarray) -> None:
        """Replace the parameters (copied)."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.num_params,):
            raise ValueError(f"expected {self.num_params} parameters, got shape {theta.shape}")
        self.theta[:] = theta

    # ------------------------------------------------------------------ forward / backward

    def _run(
        self, choices: Sequence[int] | None, draw: Callable[[], float] | None
    ) -> tuple[list[int], list[dict[str, Any]]]:
        """One pass: sample (``draw`` gives uniforms in [0, 1)) or follow ``choices``; returns choices and caches."""
        v, h_size = self._v, self.hidden_size
        h = np.zeros(h_size)
        c = np.zeros(h_size)
        x = v["start"]
        out: list[int] = []
        caches: list[dict[str, Any]] = []
        for t, n in enumerate(self.num_choices):
            z = x @ v["wx"] + h @ v["wh"] + v["b"]
            # sigmoid(z) = (1 + tanh(z / 2)) / 2: one ufunc, no overflow for any z
            sig = 0.5 * (1.0 + np.tanh(0.5 * z[: 3 * h_size]))
            gi, gf, go = sig[:h_size], sig[h_size : 2 * h_size], sig[2 * h_size :]
            gg = np.tanh(z[3 * h_size :])
            c_new = gf * c + gi * gg
            tc = np.tanh(c_new)
            h_new = go * tc
            logp = _log_softmax(h_new @ v[f"out{t}"] + v[f"outb{t}"])
            p = np.exp(logp)
            if choices is None:
                assert draw is not None
                u = draw()
                a = int(np.searchsorted(np.cumsum(p), u * float(p.sum()), side="right"))
                a = min(a, n - 1)
            else:
                a = int(choices[t])
                if not 0 <= a < n:
                    raise ValueError(f"choice {a} for decision {t} is outside [0, {n})")
            caches.append({"x": x, "h": h, "c": c, "i": gi, "f": gf, "o": go, "g": gg, "tc": tc, "hn": h_new,
                           "p": p, "logp": logp, "a": a})
            out.append(a)
            h, c = h_new, c_new
            if t + 1 < len(self.num_choices):
                x = v[f"emb{t}"][a]
        return out, caches

    def sample(self, draw: Callable[[], float]) -> tuple[list[int], float]:
        """Sample one choice per decision; ``draw()`` returns uniforms in [0, 1). Returns (choices, log-probability)."""
        choices, caches = self._run(None, draw)
        return choices, float(sum(cc["logp"][cc["a"]] for cc in caches))

    def log_prob(self, choices: Sequence[int]) -> float:
        """Log-probability of the whole choice sequence under the current parameters."""
        self._check_length(choices)
        _, caches = self._run(choices, None)
        return float(sum(cc["logp"][cc["a"]] for cc in caches))

    def probabilities(self, choices: Sequence[int]) -> list[np.ndarray]:
        """The distribution of each decision given the earlier ``choices`` (teacher forcing)."""
        self._check_length(choices)
        _, caches = self._run(choices, None)
        return [cc["p"].copy() for cc in caches]

    def _check_length(self, choices: Sequence[int]) -> None:
        if len(choices) != len(self.num_choices):
            raise ValueError(f"got {len(choices)} choices for a controller of {len(self.num_choices)} decisions")

    def loss_and_grad(
        self, choices: Sequence[int], advantage: float, entropy_weight: float
    ) -> tuple[float, np.ndarray]:
        """The REINFORCE loss of one sampled sequence and its gradient with respect to :attr:`theta`.

        ``loss = -advantage * sum_t log p_t(a_t) - entropy_weight * sum_t H(p_t)``, where ``H`` is the
        entropy of decision ``t``'s distribution given the earlier choices; minimising it raises the
        probability of sequences with positive advantage and keeps every distribution from collapsing.
        The gradient is computed by backpropagation through time.
        """
        self._check_length(choices)
        _, caches = self._run(choices, None)
        h_size = self.hidden_size
        v = self._v
        grad = np.zeros(self.num_params)
        gv = self.views(grad)
        loss = 0.0
        dh_next = np.zeros(h_size)
        dc_next = np.zeros(h_size)
        for t in range(len(caches) - 1, -1, -1):
            cc = caches[t]
            p, logp, a = cc["p"], cc["logp"], cc["a"]
            ent = -float(np.dot(p, logp))
            loss += -advantage * float(logp[a]) - entropy_weight * ent
            # d(-A log p_a)/dz = -A (onehot - p); dH/dz = -p (log p + H)
            dz = advantage * p
            dz[a] -= advantage
            dz += entropy_weight * p * (logp + ent)
            gv[f"out{t}"] += cc["hn"][:, None] * dz
            gv[f"outb{t}"] += dz
            dh = v[f"out{t}"] @ dz + dh_next
            do = dh * cc["tc"]
            dc = dh * cc["o"] * (1.0 - cc["tc"] ** 2) + dc_next
            di = dc * cc["g"]
            dg = dc * cc["i"]
            df = dc * cc["c"]
            dc_next = dc * cc["f"]
            dzz = np.concatenate(
                [
                    di * cc["i"] * (1.0 - cc["i"]),
                    df * cc["f"] * (1.0 - cc["f"]),
                    do * cc["o"] * (1.0 - cc["o"]),
                    dg * (1.0 - cc["g"] ** 2),
                ]
            )
            gv["wx"] += cc["x"][:, None] * dzz
            gv["wh"] += cc["h"][:, None] * dzz
            gv["b"] += dzz
            dx = v["wx"] @ dzz
            dh_next = v["wh"] @ dzz
            if t == 0:
                gv["start"] += dx
            else:
                gv[f"emb{t - 1}"][caches[t - 1]["a"]] += dx
        return loss, grad


def _encode(a: np.ndarray) -> str:
    """A float64 array as base64 of its little-endian bytes: exact, compact and far faster than a JSON list."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def _decode(s: str, n: int, what: str) -> np.ndarray:
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (ValueError, AttributeError) as e:
        raise ValueError(f"rl state entry {what!r} is not base64 float64 data: {e}") from None
    if len(raw) != 8 * n:
        raise ValueError(f"rl state entry {what!r} holds {len(raw) // 8} values, this controller has {n}")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


def _check_real(name: str, value: Any, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if v < lo or (lo_open and v == lo) or v > hi or (hi_open and v == hi):
        lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise ValueError(f"{name} must be in {lb}{lo:g}, {hi:g}{rb}, got {value!r}")
    return v


class RLController(Strategy):
    """REINFORCE on an LSTM controller that emits the space's categorical decisions (Zoph & Le, 2017).

    The controller (:class:`LSTMPolicy`) samples one choice per decision of ``space.decisions()``,
    each step reading the embedding of the previous choice; ``space.genome_from_decisions`` turns the
    choices into the proposed genome. For variable-length spaces the first field of an optional gene
    has a "none" choice that ends the genome; the controller still emits the later (ignored)
    decisions, which keeps the sequence length fixed and the gradient unbiased.

    When a trial is told, its reward is the first objective, sign-adjusted so that larger is better,
    minus ``violation_penalty`` times the total constraint violation. FAILED and PRUNED trials, and
    trials missing a constrained metric, get the lowest reward seen so far (no update before any
    reward is known). The controller is updated by one Adam step on
    ``-(R - b) / s * log p(choices) - entropy_weight * sum_t H_t`` every ``batch_size`` told trials
    (gradients of a batch are averaged), where ``b`` is an exponential moving average of past rewards
    (decay ``baseline_decay``) and ``s`` the standard deviation of all rewards told so far, so that
    the learning rate and the entropy weight do not depend on the scale of the metric.

    Proposals may be told in any order and in parallel: the choices behind each proposal are kept
    until it is told (several per architecture when it was proposed more than once), and the
    log-probability gradient is taken at the current parameters. A genome told without having been
    proposed is credited through ``space.decisions_of``.

    Parameters
    ----------
    hidden_size
        LSTM units and embedding width (Zoph & Le used 35).
    learning_rate
        Adam step size.
    baseline_decay
        Decay of the moving-average reward baseline, in [0, 1).
    entropy_weight
        Weight of the entropy bonus (>= 0).
    violation_penalty
        Reward lost per unit of total constraint violation (>= 0).
    batch_size
        Told trials per Adam step.
    init_scale
        Initial parameters are uniform in ``[-init_scale, init_scale]`` (Zoph & Le used 0.08).
    """

    name = "rl"

    def __init__(
        self,
        hidden_size: int = 32,
        learning_rate: float = 0.01,
        baseline_decay: float = 0.9,
        entropy_weight: float = 0.1,
        violation_penalty: float = 1.0,
        batch_size: int = 1,
        init_scale: float = 0.08,
    ) -> None:
        super().__init__()
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.hidden_size, self.batch_size = hidden_size, batch_size
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0, math.inf, lo_open=True)
        self.baseline_decay = _check_real("baseline_decay", baseline_decay, 0.0, 1.0, hi_open=True)
        self.entropy_weight = _check_real("entropy_weight", entropy_weight, 0.0, math.inf)
        self.violation_penalty = _check_real("violation_penalty", violation_penalty, 0.0, math.inf)
        self.init_scale = _check_real("init_scale", init_scale, 0.0, math.inf)
        self.policy: LSTMPolicy | None = None

    def params(self) -> dict[str, Any]:
        return {
            "hidden_size": self.hidden_size,
            "learning_rate": self.learning_rate,
            "baseline_decay": self.baseline_decay,
            "entropy_weight": self.entropy_weight,
            "violation_penalty": self.violation_penalty,
            "batch_size": self.batch_size,
            "init_scale": self.init_scale,
        }

    def _setup(self) -> None:
        space = self._space()
        self.policy = LSTMPolicy([d.num_choices for d in space.decisions()], self.hidden_size)
        # initial weights from a numpy generator seeded by the strategy's own stream
        init = np.random.default_rng(self.rng.next())
        self.policy.set_theta(init.uniform(-self.init_scale, self.init_scale, self.policy.num_params))
        n = self.policy.num_params
        self.adam_m = np.zeros(n)
        self.adam_v = np.zeros(n)
        self.adam_step = 0
        self.grad_sum = np.zeros(n)
        self.n_in_batch = 0
        self.baseline: float | None = None
        self.n_rewards = 0
        self.reward_mean = 0.0
        self.reward_m2 = 0.0
        self.worst_reward: float | None = None
        self.pending: dict[str, list[list[int]]] = {}
        self.n_updates = 0

    def _policy(self) -> LSTMPolicy:
        if self.policy is None:
            raise RuntimeError(f"{self.name} is not set up: the study calls setup() before ask()")
        return self.policy

    # ------------------------------------------------------------------ ask / tell

    def ask(self) -> Genome:
        policy = self._policy()
        choices, _ = policy.sample(self.rng.uniform)
        genome = self._space().genome_from_decisions(choices)
        self.pending.setdefault(genome.to_text(), []).append(choices)
        return genome

    def reward(self, trial: Trial) -> float | None:
        """The reward of a told trial, or ``None`` when it has none of its own (failed, pruned, metric missing)."""
        obj = self.objectives[0]
        if trial.state != TrialState.COMPLETE or obj.name not in trial.metrics:
            return None
        violation = trial.violation(self.constraints)
        value = obj.sign * float(trial.metrics[obj.name])
        if not math.isfinite(violation) or not math.isfinite(value):
            return None
        return value - self.violation_penalty * violation

    def tell(self, trial: Trial, genome: Genome) -> None:
        policy = self._policy()
        text = genome.to_text()
        queue = self.pending.get(text)
        if queue:
            choices = queue.pop(0)
            if not queue:
                del self.pending[text]
        else:
            choices = self._space().decisions_of(genome)
        r = self.reward(trial)
        if r is None:
            r = self.worst_reward
            if r is None:
                return  # nothing to compare a failure with yet
        else:
            self.worst_reward = r if self.worst_reward is None else min(self.worst_reward, r)
        # running mean and variance of every reward told (Welford): the scale of the metric
        self.n_rewards += 1
        delta = r - self.reward_mean
        self.reward_mean += delta / self.n_rewards
        self.reward_m2 += delta * (r - self.reward_mean)
        if self.baseline is None:
            self.baseline = r
        advantage = r - self.baseline
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        scale = math.sqrt(self.reward_m2 / self.n_rewards)
        normalised = advantage / scale if scale > 0 else 0.0
        _, grad = policy.loss_and_grad(choices, normalised, self.entropy_weight)
        self.grad_sum += grad
        self.n_in_batch += 1
        if self.n_in_batch >= self.batch_size:
            self._adam(self.grad_sum / self.n_in_batch)
            self.grad_sum[:] = 0.0
            self.n_in_batch = 0

    def _adam(self, grad: np.ndarray, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        policy = self._policy()
        self.adam_step += 1
        self.adam_m = beta1 * self.adam_m + (1 - beta1) * grad
        self.adam_v = beta2 * self.adam_v + (1 - beta2) * grad * grad
        m_hat = self.adam_m / (1 - beta1**self.adam_step)
        v_hat = self.adam_v / (1 - beta2**self.adam_step)
        policy.set_theta(policy.theta - self.learning_rate * m_hat / (np.sqrt(v_hat) + eps))
        self.n_updates += 1

    # ------------------------------------------------------------------ state

    def _state(self) -> dict[str, Any]:
        policy = self._policy()
        return {
            "num_params": policy.num_params,
            "theta": _encode(policy.theta),
            "adam_m": _encode(self.adam_m),
            "adam_v": _encode(self.adam_v),
            "adam_step": self.adam_step,
            # between batches the sum is zero: skip it (the state is saved with every trial)
            "grad_sum": _encode(self.grad_sum) if self.n_in_batch else None,
            "n_in_batch": self.n_in_batch,
            "baseline": self.baseline,
            "n_rewards": self.n_rewards,
            "reward_mean": self.reward_mean,
            "reward_m2": self.reward_m2,
            "worst_reward": self.worst_reward,
            "pending": {t: [list(c) for c in q] for t, q in self.pending.items()},
            "n_updates": self.n_updates,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        policy = self._policy()
        n = policy.num_params
        if int(state.get("num_params", -1)) != n:
            raise ValueError(
                f"rl state is for a controller of {state.get('num_params')} parameters, this one has {n} "
                "(different space or hidden_size)"
            )
        policy.set_theta(_decode(state["theta"], n, "theta"))
        self.adam_m = _decode(state["adam_m"], n, "adam_m")
        self.adam_v = _decode(state["adam_v"], n, "adam_v")
        self.adam_step = int(state["adam_step"])
        gs = state["grad_sum"]
        self.grad_sum = np.zeros(n) if gs is None else _decode(gs, n, "grad_sum")
        self.n_in_batch = int(state["n_in_batch"])
        opt = lambda k: None if state[k] is None else float(state[k])  # noqa: E731
        self.baseline, self.worst_reward = opt("baseline"), opt("worst_reward")
        self.n_rewards = int(state["n_rewards"])
        self.reward_mean, self.reward_m2 = float(state["reward_mean"]), float(state["reward_m2"])
        self.pending = {t: [[int(a) for a in c] for c in q] for t, q in state["pending"].items()}
        self.n_updates = int(state["n_updates"])
