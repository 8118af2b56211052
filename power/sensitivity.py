"""Radial sensitivity maps of LinDistFlow: line flows and voltages as affine maps of injections.

For a radial feeder rooted at the slack bus, LinDistFlow (lossless) gives

* downstream line flow ``F = D @ p`` with ``D[l, j] = 1`` when bus ``j`` lies below line ``l``
  (the radial PTDF is the downstream incidence), ``p`` the net load per bus (kW);
* squared voltage ``w = w0 - 2 (R @ p + X @ q)`` with ``R = D.T @ diag(r) @ D`` the
  shared-path resistance sums (pu per kW), likewise ``X``.

References
----------
Baran, M. E., Wu, F. F. (1989), "Network reconfiguration in distribution systems for loss
reduction and load balancing", IEEE Trans. Power Delivery 4(2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from power.feeder import Feeder


@dataclass(frozen=True)
class Sensitivities:
    """Sensitivity maps of one feeder (rows and columns in table order of lines / buses).

    Attributes
    ----------
    downstream : (lines x buses) sparse 0/1 matrix D; downstream flow on line l (kW) per kW
        of net load at bus j. The stored flow (from_bus -> to_bus) is ``sign[l] * F[l]``.
    sign : (lines,) +1 where from_bus is the upstream end of the line.
    r_shared, x_shared : (buses x buses) dense matrices R, X in pu^2 per kW / kvar:
        dw_k / dp_j = -2 R[k, j].
    """

    downstream: sp.csr_matrix
    sign: np.ndarray
    r_shared: np.ndarray
    x_shared: np.ndarray

    def line_flows_kw(self, p_net_kw: np.ndarray) -> np.ndarray:
        """Stored-direction line flows (kW) for net bus loads ``p_net_kw`` (buses x steps)."""
        return self.sign[:, None] * (self.downstream @ p_net_kw)

    def squared_voltages(
        self, p_net_kw: np.ndarray, q_net_kvar: np.ndarray, v_slack_pu: float
    ) -> np.ndarray:
        """Squared bus voltages (pu^2) for net bus loads (buses x steps)."""
        return v_slack_pu**2 - 2.0 * (self.r_shared @ p_net_kw + self.x_shared @ q_net_kvar)


def downstream_matrix(feeder: Feeder) -> sp.csr_matrix:
    """Downstream incidence D (lines x buses): D[l, j] = 1 when bus j is fed through line l."""
    tree = feeder.tree
    rows, cols = [], []
    ancestors: dict[int, list[int]] = {tree.slack: []}
    for b in tree.order[1:]:
        li = int(tree.parent_line[b])
        anc = ancestors[int(tree.parent_bus[li])] + [li]
        ancestors[int(b)] = anc
        rows.extend(anc)
        cols.extend([int(b)] * len(anc))
    n_l, n_b = len(feeder.lines), len(feeder.buses)
    data = np.ones(len(rows))
    return sp.csr_matrix((data, (rows, cols)), shape=(n_l, n_b))


def sensitivities(feeder: Feeder) -> Sensitivities:
    """Build the flow and voltage sensitivity maps of ``feeder``."""
    tree = feeder.tree
    d = downstream_matrix(feeder)
    r = (d.T @ sp.diags(tree.r_pu_kw) @ d).toarray()
    x = (d.T @ sp.diags(tree.x_pu_kw) @ d).toarray()
    return Sensitivities(downstream=d, sign=tree.sign, r_shared=r, x_shared=x)
