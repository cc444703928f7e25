#!/usr/bin/python3
"""An independent reference for cron_next (src/cron.c), used to make the
vectors of tests/unit/cron_vectors.txt: it enumerates wall-clock times day
by day and maps each to instants with Python's zoneinfo (folds), applying
SPEC 9.3's daylight-saving policy. Different code, different tz library,
same contract. Run: tests/unit/cron_reference.py > tests/unit/cron_vectors.txt
"""
import calendar
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def value(tok, k):
    if tok.isdigit():
        return int(tok)
    names = MONTHS if k == 4 else DAYS if k == 5 else []
    for i, n in enumerate(names):
        if n.startswith(tok.lower()):
            return i + (1 if k == 4 else 0)
    raise ValueError(tok)


def parse(expr):
    parts = expr.split()
    assert len(parts) == 6
    out = []
    for k, part in enumerate(parts):
        lo_r, hi_r = RANGES[k]
        if k == 5:
            hi_r = 6
        s = set()
        for item in part.split(","):
            step = 1
            if "/" in item:
                item, st = item.split("/")
                step = int(st)
            if item == "*":
                lo, hi = lo_r, hi_r
            elif "-" in item:
                a, b = item.split("-")
                lo, hi = sorted((value(a, k), value(b, k)))
            else:
                lo = value(item, k)
                hi = hi_r if step != 1 or "/" in part and item != part else lo
                if "/" not in part.split(",")[0] and step == 1:
                    hi = lo
            s.update(0 if (k == 5 and v == 7) else v for v in range(lo, hi + 1, step))
        out.append(s)
    return out


def instants(w, zone):
    """(kind, [instants]) of naive wall time w in zone."""
    a = w.replace(tzinfo=zone, fold=0)
    b = w.replace(tzinfo=zone, fold=1)
    ta, tb = int(a.timestamp()), int(b.timestamp())
    va = datetime.fromtimestamp(ta, zone).replace(tzinfo=None) == w
    vb = datetime.fromtimestamp(tb, zone).replace(tzinfo=None) == w
    if ta != tb and va and vb:
        return "twice", sorted((ta, tb))
    if va or vb:
        return "once", [ta if va else tb]
    lo, hi = min(ta, tb), max(ta, tb)
    off = lambda t: datetime.fromtimestamp(t, zone).utcoffset()
    o = off(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if off(mid) == o:
            lo = mid
        else:
            hi = mid
    return "gap", [hi]


def next_fire(expr, zone_name, after):
    secs, mins, hours, doms, mons, dows = parse(expr)
    zone = ZoneInfo(zone_name) if zone_name else timezone.utc
    star = hours == set(range(24))
    start = datetime.fromtimestamp(after, zone).replace(tzinfo=None) - timedelta(hours=3)
    d = start.date()
    best = None
    for _ in range(366 * 40):
        if d.month in mons and d.day in doms and (d.isoweekday() % 7) in dows:
            for h in sorted(hours):
                for m in sorted(mins):
                    for s in sorted(secs):
                        w = datetime(d.year, d.month, d.day, h, m, s)
                        if w < start:
                            continue
                        kind, ts = instants(w, zone if zone_name else ZoneInfo("UTC"))
                        if kind == "twice" and not star:
                            ts = ts[:1]
                        if kind == "gap" and star:
                            ts = []
                        for t in ts:
                            if t > after and (best is None or t < best):
                                best = t
                        if best is not None and w > datetime.fromtimestamp(best, zone).replace(tzinfo=None) + timedelta(hours=3):
                            return best
        if best is not None and datetime(d.year, d.month, d.day) > datetime.fromtimestamp(best, zone).replace(tzinfo=None) + timedelta(days=1):
            return best
        d += timedelta(days=1)
    return best


def epoch(s, zone_name=""):
    w = datetime.fromisoformat(s)
    if zone_name:
        return int(w.replace(tzinfo=ZoneInfo(zone_name)).timestamp())
    return int(w.replace(tzinfo=timezone.utc).timestamp())


CASES = [
    # every syntax form, UTC
    ("* * * * * *", "", "2024-05-01T12:34:56"),
    ("*/10 * * * * *", "", "2024-05-01T12:34:56"),
    ("0 * * * * *", "", "2024-05-01T12:34:56"),
    ("30 5 * * * *", "", "2024-05-01T12:34:56"),
    ("0 0 12 * * *", "", "2024-05-01T12:00:00"),
    ("0 0 0 1 * *", "", "2024-05-01T12:34:56"),
    ("1,2,3,5 * * * * *", "", "2024-05-01T12:34:59"),
    ("10-15 * * * * *", "", "2024-05-01T12:34:56"),
    ("10-40/10 * * * * *", "", "2024-05-01T12:34:56"),
    ("7/20 * * * * *", "", "2024-05-01T12:34:56"),
    ("0 0/25 * * * *", "", "2024-05-01T12:34:56"),
    ("0 0 */6 * * *", "", "2024-05-01T12:34:56"),
    ("0 0 9-17/4 * * *", "", "2024-05-01T12:34:56"),
    ("0 0 0 * jan *", "", "2024-05-01T12:34:56"),
    ("0 0 0 1 Jun-Aug *", "", "2024-05-01T12:34:56"),
    ("0 0 9 * * mon,wed", "", "2024-05-01T12:34:56"),
    ("0 0 9 * * t", "", "2024-05-01T12:34:56"),
    ("0 0 9 * * 7", "", "2024-05-01T12:34:56"),
    ("0 0 9 * * 5-7", "", "2024-05-01T12:34:56"),
    ("0 0 9 * * 7-5", "", "2024-05-01T12:34:56"),
    ("0 0 0 * * sat,sun", "", "2024-05-01T12:34:56"),
    ("0 0 0 13 * 5", "", "2024-01-01T00:00:00"),
    ("0 0 0 31 * *", "", "2024-01-31T00:00:00"),
    ("0 0 0 30 * *", "", "2024-01-30T00:00:00"),
    ("0 0 0 29 2 *", "", "2023-03-01T00:00:00"),
    ("0 0 0 29 2 1", "", "2024-03-01T00:00:00"),
    ("0 0 0 28-31 2 *", "", "2024-02-01T00:00:00"),
    ("59 59 23 31 12 *", "", "2024-12-31T23:59:59"),
    ("0 0 0 1 1 *", "", "2099-06-01T00:00:00"),
    ("0 0 0 L 2 *".replace("L", "1"), "", "2100-01-01T00:00:00"),
    ("0 15 10 * * 1-5", "", "2024-05-03T10:15:00"),
    ("0 0 0 1,15 * 3", "", "2024-05-01T12:00:00"),
    ("45 59 23 * * *", "", "2024-02-28T23:59:45"),
    ("0 0 12 ? * *".replace("?", "*"), "", "2024-06-30T12:00:00"),
    # America/New_York: spring forward 2026-03-08 02:00 -> 03:00, fall back 2026-11-01 02:00 -> 01:00
    ("0 30 2 * * *", "America/New_York", "2026-03-07T12:00:00"),
    ("0 0 2 * * *", "America/New_York", "2026-03-07T12:00:00"),
    ("0 */20 * * * *", "America/New_York", "2026-03-08T01:30:00"),
    ("0 30 * * * *", "America/New_York", "2026-03-08T00:45:00"),
    ("*/30 59 1 * * *", "America/New_York", "2026-03-08T01:58:00"),
    ("0 30 1 * * *", "America/New_York", "2026-10-31T12:00:00"),
    ("0 30 * * * *", "America/New_York", "2026-11-01T00:45:00"),
    ("0 0,30 1 * * *", "America/New_York", "2026-11-01T00:45:00"),
    ("0 */15 * * * *", "America/New_York", "2026-11-01T01:40:00"),
    ("0 0 0 * * *", "America/New_York", "2026-11-01T00:00:00"),
    ("0 0 12 * * *", "America/New_York", "2026-03-07T13:00:00"),
    # Europe/Berlin: spring forward 2026-03-29 02:00 -> 03:00, fall back 2026-10-25 03:00 -> 02:00
    ("0 15 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00"),
    ("0 0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00"),
    ("0 30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00"),
    ("0 0,30 * * * *", "Europe/Berlin", "2026-10-25T01:45:00"),
    ("0 0 3 * * sun", "Europe/Berlin", "2026-10-20T00:00:00"),
    ("0 0 0 25 10 *", "Europe/Berlin", "2026-01-01T00:00:00"),
    # Australia/Lord_Howe: +10:30 -> +11 on 2026-10-04 02:00 (to 02:30); back on 2026-04-05 02:00 (to 01:30)
    ("0 */15 * * * *", "Australia/Lord_Howe", "2026-10-04T01:40:00"),
    ("0 10 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00"),
    ("0 */15 * * * *", "Australia/Lord_Howe", "2026-04-05T01:20:00"),
    ("0 45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00"),
    ("0 0 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00"),
    # odd offsets
    ("0 0 9 * * *", "Asia/Kathmandu", "2024-05-01T00:00:00"),
    ("0 30 * * * *", "Asia/Kolkata", "2024-05-01T00:00:00"),
    ("0 0 0 1 * *", "Pacific/Chatham", "2024-04-06T00:00:00"),
]
NEVER = ["0 0 0 30 2 *", "0 0 0 31 4 *", "0 0 0 31 6,9,11 *", "0 0 0 30,31 2 *"]

if __name__ == "__main__":
    print("# expr|zone|after (Unix s)|three next fires (Unix s), or NEVER")
    print("# made by tests/unit/cron_reference.py; the C test checks src/cron.c against it")
    for expr, zone, frm in CASES:
        after = epoch(frm, zone)
        out = []
        t = after
        for _ in range(3):
            t = next_fire(expr, zone, t)
            out.append(str(t))
        print(f"{expr}|{zone}|{after}|{' '.join(out)}")
    for expr in NEVER:
        print(f"{expr}||{epoch('2024-01-01T00:00:00')}|NEVER")
