"""Deterministic generated registries: communes of realistic size and topology.

Each commune (about 100 devices) has a People's Committee site with a fiber uplink, the
dedicated government network, a 4G backup, a core switch behind fiber and 4G, NVRs and
cameras; and 6-8 hamlets (thôn), each with a switch behind the uplink (or a standalone 4G
router), its cameras and IP loudspeakers, plus standalone 4G loudspeaker clusters. Commune
``i`` is the same whatever ``n`` is, so registries grow without renaming anything.
"""

from __future__ import annotations

import random
from typing import Any

from devices.registry import CommuneIn, DeviceIn, Registry, SiteIn

SYLLABLES = (
    "An",
    "Bình",
    "Hòa",
    "Tân",
    "Phước",
    "Thạnh",
    "Long",
    "Mỹ",
    "Phú",
    "Đông",
    "Tây",
    "Nam",
    "Bắc",
    "Hưng",
    "Thịnh",
    "Lộc",
    "Thọ",
    "Sơn",
    "Hải",
    "Trung",
    "Xuân",
    "Quang",
    "Minh",
    "Đức",
    "Nghĩa",
    "Thuận",
    "Vĩnh",
    "Khánh",
    "Hiệp",
    "Thái",
    "Định",
    "Lợi",
    "Phong",
    "Hà",
)
PROVINCES = (
    "Quảng Ngãi", "Gia Lai", "Đắk Lắk", "Khánh Hòa", "Lâm Đồng", "Đồng Nai", "Tây Ninh",
    "Vĩnh Long", "Đồng Tháp", "An Giang", "Cần Thơ", "Cà Mau", "Nghệ An", "Hà Tĩnh",
    "Quảng Trị", "Huế", "Đà Nẵng", "Thanh Hóa", "Ninh Bình", "Hưng Yên", "Hải Phòng",
    "Bắc Ninh", "Phú Thọ", "Thái Nguyên", "Tuyên Quang", "Lào Cai", "Lạng Sơn", "Cao Bằng",
    "Điện Biên", "Lai Châu", "Sơn La", "Quảng Ninh", "Hà Nội", "TP. Hồ Chí Minh",
)  # fmt: skip
SPOTS = ("Đầu thôn", "Cuối thôn", "Nhà văn hóa", "Ngã tư", "Cầu", "Chợ", "Đình làng", "Bến đò",
         "Trường học", "Đường liên xã")  # fmt: skip
COMMUNES_PER_PROVINCE = 98
FIRST_CODE = 30001


def commune_code(i: int) -> str:
    """The 5-digit code of generated commune ``i`` (official codes step by 3)."""
    return f"{FIRST_CODE + 3 * i:05d}"


def _name(rng: random.Random) -> str:
    first, second = rng.sample(SYLLABLES, 2)
    return f"{first} {second}"


def generate(n: int) -> Registry:
    """A registry of ``n`` generated communes (about 100 devices each)."""
    registry = Registry()
    for i in range(n):
        commune, devices = _commune(i)
        registry.communes.append(commune)
        registry.devices.extend(devices)
    return registry


def _commune(i: int) -> tuple[CommuneIn, list[DeviceIn]]:
    rng = random.Random(f"commune/{i}")
    code = commune_code(i)
    name = _name(rng)
    lat0, lon0 = rng.uniform(10.0, 21.5), rng.uniform(104.5, 108.9)
    province = PROVINCES[(i // COMMUNES_PER_PROVINCE) % len(PROVINCES)]
    sites = [SiteIn(id=f"{code}-ubnd", name=f"UBND xã {name}", lat=lat0, lon=lon0)]
    out: list[DeviceIn] = []

    def add(
        dev_id: str, kind: str, site: str, label: str, parent: Any = None, **extra: Any
    ) -> None:
        out.append(
            DeviceIn(
                id=f"{code}-{dev_id}", type=kind, commune=code, site=site, name=label,
                parent=parent, **extra,
            )
        )  # fmt: skip

    ubnd = f"{code}-ubnd"
    uplink, backup, core = f"{code}-uplink", f"{code}-4g", f"{code}-core"
    add("uplink", "link", ubnd, f"Cáp quang UBND xã {name}", metadata={"wan": "fiber"})
    add("gov", "link", ubnd, "Mạng truyền số liệu chuyên dùng", metadata={"wan": "dedicated"})
    add("4g", "link", ubnd, "Đường dự phòng 4G", metadata={"wan": "4g"})
    add("core", "link", ubnd, "Switch lõi UBND", parent=[uplink, backup])
    hamlets = rng.randint(6, 8)
    cams_ubnd = rng.randint(8, 12)
    nvrs = 2 if hamlets < 8 else 3
    for k in range(1, nvrs + 1):
        add(f"nvr{k}", "nvr", ubnd, f"Đầu ghi UBND {k}", parent=core)
    for k in range(1, cams_ubnd + 1):
        add(f"cam{k:02d}", "camera", ubnd, f"Camera UBND {k}", parent=core)
    add("spk-ubnd", "speaker", ubnd, "Cụm loa UBND", parent=core)
    for h in range(1, hamlets + 1):
        hamlet = _name(rng)
        site = f"{code}-h{h}"
        hlat, hlon = lat0 + rng.uniform(-0.03, 0.03), lon0 + rng.uniform(-0.03, 0.03)
        sites.append(SiteIn(id=site, name=f"Nhà văn hóa Thôn {hamlet}", lat=hlat, lon=hlon))
        if rng.random() < 0.75:
            add(f"h{h}-sw", "link", site, f"Switch Thôn {hamlet}", parent=uplink)
        else:
            add(f"h{h}-sw", "link", site, f"Router 4G Thôn {hamlet}", metadata={"wan": "4g"})
        router = f"{code}-h{h}-sw"
        for k in range(1, rng.randint(6, 9) + 1):
            spot = SPOTS[(k - 1) % len(SPOTS)]
            add(f"h{h}-cam{k:02d}", "camera", site, f"Camera {spot} Thôn {hamlet}", parent=router,
                lat=hlat + rng.uniform(-0.004, 0.004), lon=hlon + rng.uniform(-0.004, 0.004))  # fmt: skip
        ip_speakers = rng.randint(1, 2)
        for k in range(1, ip_speakers + 1):
            add(f"h{h}-spk{k}", "speaker", site, f"Cụm loa IP số {k} Thôn {hamlet}", parent=router)
        for k in range(ip_speakers + 1, ip_speakers + rng.randint(1, 2) + 1):
            add(f"h{h}-spk{k}", "speaker", site, f"Cụm loa 4G số {k} Thôn {hamlet}")
    return CommuneIn(code=code, name=f"Xã {name}", province=province, sites=sites), out
