"""The operator's view of the shared queue (`symbl-batch emulator queue --database URL`): one read, no change."""

from __future__ import annotations

from typing import Any

from batch.emulator.cluster.database import Database, Tx


def queue_view(db: Database) -> dict[str, Any]:
    """Jobs by status, the account's limit and peak, every running job with its worker and lease, every worker."""

    def work(tx: Tx) -> dict[str, Any]:
        now = float(tx.execute("SELECT {now}")[0][0])
        by_status = {s: int(n) for s, n in tx.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}
        account = tx.execute("SELECT concurrency_limit, peak_active, submitted, rejected FROM account WHERE id = 1")
        running = [
            {
                "job": job_id,
                "worker": owner,
                "attempt": int(attempts),
                "lease_left_s": round(float(expires) - now, 1) if expires is not None else None,
            }
            for job_id, owner, expires, attempts in tx.execute(
                "SELECT id, lease_owner, lease_expires, attempts FROM jobs WHERE status = 'in_progress' ORDER BY seq"
            )
        ]
        workers = [
            {"id": wid, "host": host, "pid": int(pid), "seen_s_ago": round(now - float(seen), 1),
             "jobs_done": int(done), "current_job": current}
            for wid, host, pid, seen, done, current in tx.execute(
                "SELECT id, host, pid, seen_at, jobs_done, current_job FROM workers ORDER BY started_at"
            )
        ]  # fmt: skip
        limit, peak, submitted, rejected = account[0] if account else (None, 0, 0, 0)
        return {
            "jobs": {s: by_status.get(s, 0) for s in ("scheduled", "in_progress", "completed", "failed")},
            "account": {"concurrency_limit": limit, "peak_active": peak, "submitted": submitted, "rejected": rejected},
            "running": running,
            "workers": workers,
        }

    return db.run(work)


def render(view: dict[str, Any]) -> str:
    jobs, account = view["jobs"], view["account"]
    lines = [
        "jobs: " + ", ".join(f"{n} {s}" for s, n in jobs.items()),
        f"account: limit {account['concurrency_limit']}, peak {account['peak_active']}, "
        f"{account['submitted']} submitted, {account['rejected']} refused (429)",
    ]
    for r in view["running"]:
        lines.append(f"running {r['job']} on {r['worker']} (attempt {r['attempt']}, lease {r['lease_left_s']} s left)")
    for w in view["workers"]:
        doing = f", on {w['current_job']}" if w["current_job"] else ""
        lines.append(f"worker {w['id']}: {w['jobs_done']} done, seen {w['seen_s_ago']} s ago{doing}")
    return "\n".join(lines)
