"""EV travel demand from a trip table: departure times, departure SOC, trip energy and the
intention to charge (``evtp build --tntp``).

The model (every default of :class:`EvDemandModel` with its source):

- **Vehicles.** ``ev_share`` of the trips of the table are EV trips; the table is taken as
  the trips of the whole horizon (``trips_scale`` vehicles per table unit; TNTP tables are
  often peak-hour flows, scale them up to read them as such).
- **Departure times.** A profile of shares per clock hour (``departures``), integrated over
  every step of the horizon from ``[time] start``; default :data:`WEEKDAY_TRIP_STARTS`. A
  trip departs no later than it can still arrive: the last
  ``shortest free-flow steps + charge steps + 1`` steps get no departures of that OD, and
  the shares are renormalised over the rest.
- **Departure SOC.** A seeded sample (``samples`` draws, ``seed``) of a Beta distribution
  with mean ``soc_mean`` and standard deviation ``soc_sd``, clipped to ``[soc_min, 1]``.
- **Trip energy.** ``kwh_per_km`` times the length of the OD's shortest free-flow path;
  in SOC, divided by ``battery_kwh``.
- **Who must stop.** A vehicle whose SOC is below ``soc_min + trip energy`` cannot arrive
  without charging: per OD the sample is split at that threshold into vehicles that *need*
  to stop (OD id ``<o>-<d>~need``) and vehicles that do not (``<o>-<d>``), each with the
  mean SOC of its part of the sample. Both arrive with SOC >= ``soc_min``.
- **Who intends to charge.** A share ``charge_share`` of the EVs (drawn from the whole
  distribution) intend to charge on the way and arrive with at least ``target_soc``
  (OD id ``<o>-<d>~charge``, column ``arrival_soc``).

Those that need or intend to charge are the ODs whose paths may stop at stations with
``[parameters] path_stops = "needed"``; the DTA decides where and how much they charge.

Defaults and their sources:

- ``kwh_per_km = 0.17``: the mean consumption of 17 kWh/100 km of seed 001 (Norwegian
  standards).
- ``battery_kwh = 60``: the order of the usable battery of today's battery-electric cars
  (an assumption, as in evtp's TNTP cases since the first release).
- ``target_soc = 0.8``: DC fast charging is usually stopped at 80 % SOC, above which the
  charging power tapers.
- ``soc_min = 0.2``: the SOC floor of seed 003 (and ``[parameters] soc_min``).
- ``soc_mean = 0.6``, ``soc_sd = 0.15`` and ``charge_share = 0.2``: assumptions (no source
  gives a departure-SOC distribution or a share of trips with an en-route fast charge for
  these networks); change them with ``--soc-mean``, ``--soc-sd`` and ``--charge-share``.
- :data:`WEEKDAY_TRIP_STARTS`: the shape of the weekday trip-start profile by hour of the
  U.S. 2017 National Household Travel Survey (FHWA), a morning peak at 7-8 h and an
  afternoon peak at 15-18 h; the values are rounded approximations of that profile, not the
  survey's table. Pass ``--departures FILE`` (CSV ``hour,share``) for your own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from traffic.graph import pair_distances, through_blocked
from traffic.network import RoadNetwork, TrafficDataError, TravelDemand

# share of weekday trips starting in each clock hour 0..23 (sums to 1; module docstring)
WEEKDAY_TRIP_STARTS: tuple[float, ...] = tuple(
    np.array(
        [0.5, 0.3, 0.2, 0.2, 0.4, 1.2, 3.2, 6.4, 6.0, 5.0, 5.2, 5.8,
         6.6, 6.2, 6.4, 7.6, 8.0, 8.2, 6.4, 4.6, 3.6, 2.8, 1.9, 0.8]
    )
    / 97.5
)  # fmt: skip


@dataclass(frozen=True)
class EvDemandModel:
    """Parameters of the EV demand model (module docstring: meaning and sources).

    ev_share : EV share of the trips (0, 1].
    trips_scale : vehicles per trip-table unit over the horizon.
    departures : shares per clock hour 0..23 (normalised).
    soc_mean, soc_sd : departure SOC distribution (fraction of the battery).
    kwh_per_km : consumption (kWh/km).
    charge_share : share of EVs that intend to charge on the way, in [0, 1].
    target_soc : arrival SOC of those (fraction).
    battery_kwh : usable battery (kWh).
    soc_min : SOC floor (fraction).
    charger_kw : charger power assumed for the latest departure (kW).
    seed, samples : the SOC sample.
    """

    ev_share: float = 0.01
    trips_scale: float = 1.0
    departures: tuple[float, ...] = WEEKDAY_TRIP_STARTS
    soc_mean: float = 0.6
    soc_sd: float = 0.15
    kwh_per_km: float = 0.17
    charge_share: float = 0.2
    target_soc: float = 0.8
    battery_kwh: float = 60.0
    soc_min: float = 0.2
    charger_kw: float = 50.0
    seed: int = 0
    samples: int = 20_000

    def __post_init__(self) -> None:
        checks = [
            (0.0 < self.ev_share <= 1.0, "--ev-share must lie in (0, 1]"),
            (np.isfinite(self.trips_scale) and self.trips_scale > 0, "--trips-scale must be > 0"),
            (0.0 < self.soc_mean < 1.0, "--soc-mean must lie in (0, 1)"),
            (
                0.0 < self.soc_sd < np.sqrt(self.soc_mean * (1 - self.soc_mean)),
                "--soc-sd must be > 0 and below sqrt(m (1 - m)) for mean m",
            ),
            (np.isfinite(self.kwh_per_km) and self.kwh_per_km > 0, "--kwh-per-km must be > 0"),
            (0.0 <= self.charge_share <= 1.0, "--charge-share must lie in [0, 1]"),
            (self.soc_min < self.target_soc <= 1.0, "--target-soc must lie in (soc_min, 1]"),
            (np.isfinite(self.battery_kwh) and self.battery_kwh > 0, "battery must be > 0 kWh"),
            (np.isfinite(self.charger_kw) and self.charger_kw > 0, "charger power must be > 0"),
            (self.samples >= 100, "at least 100 SOC samples"),
        ]
        for ok, msg in checks:
            if not ok:
                raise TrafficDataError(msg)
        d = np.asarray(self.departures, float)
        if d.shape != (24,) or not np.isfinite(d).all() or (d < 0).any() or d.sum() <= 0:
            raise TrafficDataError(
                "departures: need 24 finite non-negative hourly shares, not all 0"
            )

    def soc_sample(self) -> np.ndarray:
        """The sorted departure-SOC sample (fractions)."""
        m, s = self.soc_mean, self.soc_sd
        k = m * (1 - m) / s**2 - 1  # Beta(a, b) with mean m and sd s
        rng = np.random.default_rng(self.seed)
        x = rng.beta(m * k, (1 - m) * k, size=self.samples)
        return np.sort(np.clip(x, self.soc_min, 1.0))


def read_departures(path: str | Path) -> tuple[float, ...]:
    """A departure profile from a CSV with columns ``hour`` (0..23) and ``share``."""
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise TrafficDataError(f"{Path(path).name}: cannot read ({exc})") from None
    if not {"hour", "share"} <= set(df.columns):
        raise TrafficDataError(f"{Path(path).name}: needs columns hour, share")
    hour = pd.to_numeric(df["hour"], errors="coerce")
    share = pd.to_numeric(df["share"], errors="coerce")
    bad = hour.isna() | share.isna() | ~hour.isin(range(24)) | ~np.isfinite(share) | (share < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrafficDataError(
            f"{Path(path).name}: row {i + 2}: hour must be 0..23 and share a number >= 0"
        )
    if hour.duplicated().any():
        raise TrafficDataError(
            f"{Path(path).name}: hour {int(hour[hour.duplicated()].iloc[0])} twice"
        )
    out = np.zeros(24)
    out[hour.astype(int).to_numpy()] = share.to_numpy(float)
    if out.sum() <= 0:
        raise TrafficDataError(f"{Path(path).name}: all shares are 0")
    return tuple(out / out.sum())


def step_weights(
    departures: tuple[float, ...], steps: int, dt_h: float, start_h: float
) -> np.ndarray:
    """Share of the hourly profile falling into each step (integral of the piecewise-constant
    hourly density over the step; the day repeats). Not normalised over the horizon."""
    edges = start_h + dt_h * np.arange(steps + 1)
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(departures, float) / np.sum(departures))])

    def integral(h: np.ndarray) -> np.ndarray:  # profile mass from 0 h to h, over whole days
        days, rest = np.divmod(h, 24.0)
        i = np.floor(rest).astype(int)
        return days + cum[i] + (rest - i) * (cum[np.minimum(i + 1, 24)] - cum[i])

    return np.diff(integral(edges))


def shortest_paths(
    network: RoadNetwork, origins: np.ndarray, dests: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(km, free-flow steps) of the shortest path of each (origin, destination) pair, by
    free-flow steps with ties broken by length, never passing through a zone (``through``
    False), as :mod:`traffic.paths` ranks paths; inf where there is none.

    The weight is ``steps + 1e-6 km``: the steps are its rounded value, the km the rest.
    """
    seg = network.segments
    w = seg["free_flow_steps"].to_numpy(float) + 1e-6 * seg["length_km"].to_numpy(float)
    dist = pair_distances(seg, w, origins, dests, through_blocked(network.nodes))
    steps = np.round(dist)
    with np.errstate(invalid="ignore"):
        km = np.where(np.isfinite(dist), (dist - steps) * 1e6, np.inf)
    return km, steps


@dataclass(frozen=True)
class DemandStats:
    """What :func:`ev_demand` built (vehicles over the horizon; energies in kWh)."""

    ev_trips: float
    ods: int
    ods_unreachable: int
    vehicles_need: float
    vehicles_charge: float
    driving_kwh: float
    min_charge_kwh: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def ev_demand(
    trips: pd.DataFrame,
    network: RoadNetwork,
    model: EvDemandModel,
    *,
    steps: int,
    dt_h: float,
    start_h: float = 0.0,
    aggregator: str = "eva1",
) -> tuple[TravelDemand, DemandStats]:
    """The EV demand of a trip table (origin, destination, trips) on ``network`` by the model
    of the module docstring, on ``steps`` steps of ``dt_h`` h from clock hour ``start_h``.

    Returns the demand (columns of ``traffic/demand.csv`` plus ``arrival_soc``) and its
    statistics. ODs that cannot arrive within the horizon even when leaving at step 0 (free
    flow plus one full charge) are left out and counted (``ods_unreachable``).
    """
    od = trips[(trips["trips"] > 0) & (trips["origin"] != trips["destination"])]
    od = od.groupby(["origin", "destination"], sort=False, as_index=False)["trips"].sum()
    ev = od["trips"].to_numpy(float) * model.ev_share * model.trips_scale
    km, ff = shortest_paths(network, od["origin"].to_numpy(), od["destination"].to_numpy())
    if not np.isfinite(km).all():
        i = int(np.flatnonzero(~np.isfinite(km))[0])
        raise TrafficDataError(
            f"trips: od {od['origin'].iloc[i]}-{od['destination'].iloc[i]} has no path "
            "(zones are never passed through)"
        )
    use = km * model.kwh_per_km / model.battery_kwh  # SOC used by the trip
    latest = steps - 1 - ff - charge_steps(model, dt_h)
    ok = latest >= 0
    t = np.arange(steps)
    w = step_weights(model.departures, steps, dt_h, start_h)[None, :] * (
        t[None, :] <= latest[:, None]
    )
    tot = w.sum(axis=1, keepdims=True)
    flat = (t[None, :] <= latest[:, None]).astype(float)  # profile empty there: uniform
    w = np.where(
        tot > 0, w / np.where(tot > 0, tot, 1.0), flat / np.maximum(flat.sum(1, keepdims=True), 1)
    )

    sample = model.soc_sample()
    cum = np.concatenate([[0.0], np.cumsum(sample)])
    n = len(sample)
    k = np.searchsorted(sample, model.soc_min + use)  # vehicles below: must stop
    frac_need = k / n
    mean_need = np.where(k > 0, cum[k] / np.maximum(k, 1), 0.0)
    mean_free = np.where(k < n, (cum[n] - cum[k]) / np.maximum(n - k, 1), 0.0)
    mean_all = cum[n] / n
    cs = model.charge_share
    classes = [
        ("", (1 - cs) * (1 - frac_need), mean_free, model.soc_min),
        ("~need", (1 - cs) * frac_need, mean_need, model.soc_min),
        ("~charge", np.full(len(od), cs), np.full(len(od), mean_all), model.target_soc),
    ]
    base = (od["origin"] + "-" + od["destination"]).to_numpy()
    frames = []
    for suffix, frac, mean, arrival in classes:
        veh = (ev * frac * ok)[:, None] * w
        i, j = np.nonzero(veh > 1e-12)
        frames.append(
            pd.DataFrame(
                {
                    "od": base[i] + suffix,
                    "origin": od["origin"].to_numpy()[i],
                    "destination": od["destination"].to_numpy()[i],
                    "aggregator": aggregator,
                    "t": j,
                    "vehicles": veh[i, j],
                    "soc_total": veh[i, j] * mean[i],
                    "arrival_soc": arrival,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True).sort_values(["od", "t"], kind="stable")
    need_kwh = (
        (ev * ok * (1 - cs) * frac_need) * np.maximum(0.0, model.soc_min + use - mean_need)
        + (ev * ok * cs) * np.maximum(0.0, model.target_soc + use - mean_all)
    ) * model.battery_kwh
    stats = DemandStats(
        ev_trips=float((ev * ok).sum()),
        ods=int(ok.sum()),
        ods_unreachable=int((~ok).sum()),
        vehicles_need=float((ev * ok * (1 - cs) * frac_need).sum()),
        vehicles_charge=float((ev * ok * cs).sum()),
        driving_kwh=float((ev * ok * km).sum() * model.kwh_per_km),
        min_charge_kwh=float(need_kwh.sum()),
    )
    return TravelDemand(table.reset_index(drop=True)), stats


def charge_steps(model: EvDemandModel, dt_h: float) -> int:
    """Steps one full charge (``soc_min`` to ``target_soc`` at ``charger_kw``) takes."""
    kwh = (model.target_soc - model.soc_min) * model.battery_kwh
    return int(np.ceil(kwh / (model.charger_kw * dt_h)))


def clip_departures(
    table: pd.DataFrame, network: RoadNetwork, steps: int, spare_steps: int
) -> tuple[pd.DataFrame, float]:
    """Departures later than an OD can still arrive (``steps - 1 - free-flow steps -
    spare_steps``) moved to that latest step (at least 0), e.g. after aggregation put a
    short trip's late departures on a longer OD. Returns the table and the vehicles moved."""
    ods = table.drop_duplicates("od")
    _, ff = shortest_paths(network, ods["origin"].to_numpy(), ods["destination"].to_numpy())
    latest = pd.Series(np.maximum(steps - 1 - ff - spare_steps, 0), index=ods["od"].to_numpy())
    last = table["od"].map(latest).to_numpy()
    late = table["t"].to_numpy() > last
    if not late.any():
        return table, 0.0
    moved = float(table.loc[late, "vehicles"].sum())
    out = table.assign(t=np.where(late, last, table["t"]).astype(int))
    keys = ["od", "t"]
    sums = out.groupby(keys, sort=True)[["vehicles", "soc_total"]].sum()
    rest = out.drop(columns=["vehicles", "soc_total"]).groupby(keys, sort=True).first()
    merged = rest.join(sums).reset_index()
    return merged[list(table.columns)], moved
