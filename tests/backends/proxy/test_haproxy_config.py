"""The HAProxy renderer against golden files, each also checked by the real `haproxy -c`.

Regenerate the golden files after an intended change with FLOWGATE_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from flowgate.backends.proxy.haproxy_config import (
    RenderOptions,
    ServiceEntry,
    plan_slots,
    render,
)

GOLDEN = Path(__file__).parent / "golden"
OPTIONS = RenderOptions("127.0.0.1", 8080, 8081, "/run/flowgate/admin.sock")


def entry(service: str, paths: tuple[str, ...], live: list[str], **kw: object) -> ServiceEntry:
    live_plan = plan_slots((), live, 4)
    preview_plan = plan_slots((), list(kw.get("preview", [])), 4)  # type: ignore[call-overload]
    return ServiceEntry(
        service,
        paths,
        tuple(kw.get("domains", ())),  # type: ignore[call-overload]
        "blue",
        "green" if kw.get("preview") else None,
        live_plan.final,
        preview_plan.final,
    )


def grown() -> ServiceEntry:
    first = plan_slots((), ["10.0.0.1:8080"], 4)
    more = [f"10.0.0.{i}:8080" for i in range(1, 7)]
    second = plan_slots(first.final, more, 4)
    assert second.grown
    return ServiceEntry("shop-app", ("/",), (), "blue", None, second.final, ())


CASES = {
    "one_target": {"shop-app": entry("shop-app", ("/",), ["127.0.0.1:32768"])},
    "two_targets": {
        "books-api": entry("books-api", ("/api/v1/books", "/api"), ["127.0.0.1:32768"]),
        "books-ui": entry("books-ui", ("/",), ["127.0.0.1:32770", "127.0.0.1:32771"]),
    },
    "domains": {
        "shop-app": entry(
            "shop-app", ("/shop",), ["127.0.0.1:32768"], domains=("shop.example.com", "*.shop.io")
        ),
    },
    "preview": {
        "shop-app": entry(
            "shop-app", ("/",), ["127.0.0.1:32768"], preview=["127.0.0.1:32780", "127.0.0.1:32781"]
        )
    },
    "capacity_growth": {"shop-app": grown()},
    "shared_same_path_by_domain": {
        "books-app": entry("books-app", ("/",), ["127.0.0.1:32768"], domains=("books.test",)),
        "users-app": entry("users-app", ("/",), ["127.0.0.1:32770"]),
    },
    "no_targets": {},
}


def options(case: str) -> RenderOptions:
    if case == "preview_header":
        return RenderOptions(
            "0.0.0.0", 8080, 8081, "/run/flowgate/admin.sock", "127.0.0.1", "p.map"
        )
    return OPTIONS


CASES["preview_header"] = CASES["preview"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_config_matches_golden_file(case: str) -> None:
    text = render(CASES[case], options(case))
    golden = GOLDEN / f"{case}.cfg"
    if os.environ.get("FLOWGATE_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.haproxy
@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_config_is_valid_for_haproxy(case: str, tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(CASES[case], options(case)))
    (tmp_path / "p.map").write_text("")
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr


def test_rendering_is_deterministic_whatever_the_insertion_order() -> None:
    services = CASES["two_targets"]
    reversed_order = dict(reversed(list(services.items())))
    assert render(services, OPTIONS) == render(reversed_order, OPTIONS)


def test_longest_path_is_routed_first_and_root_last() -> None:
    text = render(CASES["two_targets"], OPTIONS)
    live_rules = [ln for ln in text.splitlines() if "use_backend" in ln and ".live" in ln]
    assert [rule.split("path_beg ")[1].split()[0] for rule in live_rules] == [
        "/api/v1/books",
        "/api",
        "/",
    ]


def test_slots_keep_placed_servers_and_use_free_ones_for_the_new_color() -> None:
    blue = plan_slots((), ["10.0.0.1:80"], 4)
    assert blue.final == ("10.0.0.1:80", None, None, None)
    green = plan_slots(blue.final, ["10.0.0.2:80", "10.0.0.3:80"], 4)
    assert (green.added, green.removed, green.grown) == ((1, 2), (0,), False)
    assert green.final == (None, "10.0.0.2:80", "10.0.0.3:80", None)
    scaled = plan_slots(green.final, ["10.0.0.2:80"], 4)
    assert (scaled.added, scaled.removed) == ((), (2,))
    same = plan_slots(scaled.final, ["10.0.0.2:80"], 4)
    assert (same.added, same.removed, same.grown) == ((), (), False)


def test_slots_grow_in_powers_of_two_when_old_and_new_do_not_fit() -> None:
    current = ("a:1", "b:1", "c:1", None)
    plan = plan_slots(current, ["d:1", "e:1"], 4)
    assert plan.grown
    assert len(plan.final) == 8
    assert plan.final[:5] == (None, None, None, "d:1", "e:1")
    assert plan.added == (3, 4)
