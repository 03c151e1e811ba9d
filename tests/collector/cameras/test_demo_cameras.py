"""The demo's camera fakes: valid inventory devices and a scenario the checks see."""

from __future__ import annotations

import yaml

from collector.checks.hikvision import HikvisionCheck, HikvisionParams
from collector.inventory import parse_inventory
from simulators.vendors import demo_cameras

from .conftest import run, target


def test_demo_devices_are_a_valid_inventory_and_the_script_plays() -> None:
    demo = demo_cameras.start("21025", "col-demo", "demo-pass", site="s1")
    try:
        doc = {
            "communes": [
                {"code": "21025", "name": "Xã Demo", "sites": [{"id": "s1", "name": "UBND"}]}
            ],
            "devices": [
                {
                    "id": "col-demo",
                    "type": "collector",
                    "commune": "21025",
                    "site": "s1",
                    "name": "Bộ thu thập",
                },
                *demo.devices,
            ],
        }
        inventory = parse_inventory(yaml.safe_dump(doc, allow_unicode=True), "demo")
        assert len(inventory.watched_by("col-demo")) == 5
        check = HikvisionCheck(
            target("nvr", "demo-nvr-1"),
            HikvisionParams(port=demo.nvr.port, username="monitor", password_env="P"),
            lambda name: "demo-pass",
        )

        async def go():  # type: ignore[no-untyped-def]
            before = await check.poll()
            await demo_cameras.script(
                demo, disk_at_s=0.1, video_loss_at_s=0.05, video_loss_for_s=0.2
            )
            after = await check.poll()
            await check.close()
            return before, after

        before, after = run(go(), timeout=30)
        assert before.metrics["disk_status"] == "normal"
        assert after.metrics["disk_status"] == "smartfailed"
        assert after.metrics["channels_recording"] == 4  # video came back
        assert [e.type for e in after.events] == ["disk_failure"]
    finally:
        demo.stop()
