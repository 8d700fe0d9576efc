"""Every string a person reads on the status page, in English and Bahasa Indonesia.

The page is read in district offices as well as at the ministry, so each key
must exist in both languages with the same `{placeholders}` (a test checks
this). Page code never writes prose itself: it calls `text(lang, key, ...)`.

A phrase with a counted noun has two keys, `<key>_one` and `<key>_other`,
picked by `plural_key`. Indonesian does not inflect for number, so its two
forms are the same text; they exist so both catalogues keep the same keys.
"""

from __future__ import annotations

from typing import Final, Literal

Lang = Literal["en", "id"]
LANGS: Final[tuple[Lang, ...]] = ("en", "id")
DEFAULT_LANG: Final[Lang] = "en"

EN: Final[dict[str, str]] = {
    "html_lang": "en",
    "title": "Pantau: e-KTP station status",
    "station_title": "Station {station}",
    "switch_lang": "Bahasa Indonesia",
    "updated": "Updated {when}; this page refreshes every {every} seconds.",
    "fleet_stations_one": "station",
    "fleet_stations_other": "stations",
    "fleet_ready": "ready",
    "fleet_down": "down",
    "fleet_planned": "planned",
    "fleet_empty": "No stations are registered or reporting yet.",
    "region_none": "(no region)",
    "site_ready_one": "{ready} of {total} station ready",
    "site_ready_other": "{ready} of {total} stations ready",
    "site_can_enroll": "can enroll today",
    "site_cannot_enroll": "cannot enroll today",
    "site_unregistered": "not in the registry",
    "site_rollout_one": "Rollout: {planned} planned station not installed yet",
    "site_rollout_other": "Rollout: {planned} planned stations not installed yet",
    "site_ok": "No problems.",
    "site_waiting": "Connected, first report not in yet: {stations}",
    # {when} is a `held_*` phrase: how long the station/part has been in this state.
    "problem_station": "{station}: {state} {when}",
    "problem_never_seen": "{station} has never reported (registered, expected to work)",
    "problem_part": "{station}: {component} {status} {when}",
    "problem_unexpected_one": "{station}: {n} unexpected USB device attached: {devices}",
    "problem_unexpected_other": "{station}: {n} unexpected USB devices attached: {devices}",
    "mark_bad": "PROBLEM",
    "mark_ok": "OK",
    "state_online": "online",
    "state_offline": "shut down",
    "state_lost": "connection lost",
    "state_stale": "silent",
    "state_never_seen": "never reported",
    "state_planned": "planned",
    "never_seen_hint": "registered and expected to work; the agent has never connected",
    "status_ok": "ok",
    "status_missing": "missing",
    "status_failed": "failed",
    "status_unknown": "unknown",
    "yes": "yes",
    "no": "no",
    "never": "never",
    "just_now": "just now",
    "ago": "{dur} ago",
    "ahead": "{dur} ahead",
    "held_for": "for {dur}",
    "held_moment": "for a few seconds",
    "held_ahead": "(station clock {dur} ahead)",
    "dur_s": "{n} s",
    "dur_min": "{n} min",
    "dur_h": "{n} h",
    "dur_d_one": "{n} day",
    "dur_d_other": "{n} days",
    "back": "Back to the overview",
    "summary": "Summary",
    "field_state": "State",
    "field_site": "Office",
    "field_profile": "Profile",
    "field_registered": "Registered",
    "field_hostname": "Host name",
    "field_agent": "Agent version",
    "field_heartbeat": "Last heartbeat",
    "field_clock_offset": "Clock offset",
    "components": "Components",
    "col_component": "Component",
    "col_kind": "Kind",
    "col_required": "Required",
    "col_status": "Status",
    "col_since": "Last change",
    "col_detail": "Message from the agent",
    "col_device": "Device",
    "checks": "Network checks",
    "col_check": "Check",
    "col_latency": "Latency",
    "host": "Host health",
    "host_cpu": "CPU",
    "host_load": "Load (1 min)",
    "host_memory": "Memory used",
    "host_swap": "Swap used",
    "host_temperature": "Temperature",
    "host_boot": "Booted",
    "host_disk": "Disk {mount}",
    "host_disk_usage": "{used} used, {free} free",
    "host_none": "No host health reported yet.",
    "unexpected": "Unexpected USB devices",
    "col_port": "Port",
    "events": "Recent events",
    "events_unreadable": "Recent events are not shown: {reason}. The live state above is "
                         "current; /readyz says what the history store needs.",
    "col_time": "Time",
    "col_change": "Change",
    "none": "None.",
    "not_found": "There is no station {station}.",
    "not_found_hint": "Check the id in the overview or in the registry (fleet.toml).",
    # Opening hours, capacity, maintenance (fleet.toml [schedule]).
    "fleet_offices_open_one": "{n} of {total} office open now",
    "fleet_offices_open_other": "{n} of {total} offices open now",
    "fleet_can_enroll": "{n} can enroll",
    "fleet_capacity_one": "capacity today {n} person",
    "fleet_capacity_other": "capacity today {n} people",
    "filter_open": "Show only offices open now",
    "filter_all": "Show all offices",
    "filter_none_open": "No office is open now.",
    "hours_open": "Open",
    "hours_closed": "Closed",
    "hours_maintenance": "Maintenance",
    "hours_local": "{time} local time ({zone})",
    "hours_opens_today": "opens at {time}",
    "hours_opens_on": "opens {day} {time}",
    "hours_no_opening": "no opening ahead",
    "maintenance_site": "Maintenance until {time}: {reason}",
    "maintenance_station": "{station} in maintenance until {time}: {reason}",
    "capacity_ready_one": "Capacity today: {people} people ({kits} kit ready)",
    "capacity_ready_other": "Capacity today: {people} people ({kits} kits ready)",
    "capacity_expected_one": "Capacity today: {people} people ({kits} kit expected ready)",
    "capacity_expected_other": "Capacity today: {people} people ({kits} kits expected ready)",
    "site_expected_one": "{kits} of {total} station expected ready at opening",
    "site_expected_other": "{kits} of {total} stations expected ready at opening",
    "site_can_enroll_next": "can enroll when it opens",
    "site_cannot_enroll_next": "cannot enroll when it opens",
    "site_switched_off": "Switched off after closing, expected back at opening: {stations}",
    "day_0": "Mon",
    "day_1": "Tue",
    "day_2": "Wed",
    "day_3": "Thu",
    "day_4": "Fri",
    "day_5": "Sat",
    "day_6": "Sun",
    # Parts: stand-ins, part changes, repairs and the reliability page.
    "status_standin": "stand-in",
    "standin_note": "{station}: {component} on a stand-in, repair open {when}",
    "standin_hint": "enrolling with a stand-in; the part is still to be replaced",
    "part_changes": "Part changes",
    "change_install": "installed",
    "change_removal": "removed",
    "change_swap": "swapped",
    "col_before": "Before",
    "reliability_link": "Reliability",
    "reliability_title": "Pantau: reliability",
    "rel_intro": "Figures of {when}. Availability is the share of opening hours the stations "
                 "were ready; maintenance does not count.",
    "rel_none": "No figures yet: they are worked out every minute from the history.",
    "rel_sites": "Availability by office",
    "col_today": "Today",
    "col_7d": "Last 7 days",
    "col_30d": "Last 30 days",
    "col_open_repairs": "Open repairs",
    "col_ttr_median": "Time to repair (median, 30 days)",
    "col_ttr_p90": "Time to repair (90%, 30 days)",
    "rel_roles": "Time to repair by part (30 days)",
    "col_closed": "Repairs closed",
    "rel_models": "Failures per model (30 days)",
    "col_model": "Model",
    "col_kit_days": "Kit-days",
    "col_failures": "Failures",
    "col_per_1000": "Per 1,000 kit-days",
    "col_mtbf": "Mean time between failures",
    "rel_open": "Open repairs",
    "col_model_to_order": "Model to order",
    "col_open_for": "Open for",
    "col_ordered": "Ordered",
    "col_ticket": "Ticket",
    "rel_stations": "Least available stations (last 7 days)",
    "col_station": "Station",
    "col_availability": "Availability",
    "rollout_due": "install by {date}",
    "rollout_overdue": "deadline {date} passed",
}

ID: Final[dict[str, str]] = {
    "html_lang": "id",
    "title": "Pantau: status stasiun e-KTP",
    "station_title": "Stasiun {station}",
    "switch_lang": "English",
    "updated": "Diperbarui {when}; halaman ini dimuat ulang tiap {every} detik.",
    "fleet_stations_one": "stasiun",
    "fleet_stations_other": "stasiun",
    "fleet_ready": "siap",
    "fleet_down": "mati",
    "fleet_planned": "direncanakan",
    "fleet_empty": "Belum ada stasiun yang terdaftar atau melapor.",
    "region_none": "(tanpa wilayah)",
    "site_ready_one": "{ready} dari {total} stasiun siap",
    "site_ready_other": "{ready} dari {total} stasiun siap",
    "site_can_enroll": "bisa melayani perekaman hari ini",
    "site_cannot_enroll": "tidak bisa melayani perekaman hari ini",
    "site_unregistered": "tidak ada di registri",
    "site_rollout_one": "Peluncuran: {planned} stasiun yang direncanakan belum terpasang",
    "site_rollout_other": "Peluncuran: {planned} stasiun yang direncanakan belum terpasang",
    "site_ok": "Tidak ada masalah.",
    "site_waiting": "Sudah terhubung, laporan pertama belum masuk: {stations}",
    "problem_station": "{station}: {state} {when}",
    "problem_never_seen": "{station} belum pernah melapor (terdaftar, seharusnya sudah bekerja)",
    "problem_part": "{station}: {component} {status} {when}",
    "problem_unexpected_one": "{station}: {n} perangkat USB tak dikenal terpasang: {devices}",
    "problem_unexpected_other": "{station}: {n} perangkat USB tak dikenal terpasang: {devices}",
    "mark_bad": "MASALAH",
    "mark_ok": "BAIK",
    "state_online": "daring",
    "state_offline": "dimatikan",
    "state_lost": "koneksi terputus",
    "state_stale": "tidak ada kabar",
    "state_never_seen": "belum pernah melapor",
    "state_planned": "direncanakan",
    "never_seen_hint": "terdaftar dan seharusnya sudah bekerja; agen belum pernah terhubung",
    "status_ok": "baik",
    "status_missing": "tidak terdeteksi",
    "status_failed": "rusak",
    "status_unknown": "tidak diketahui",
    "yes": "ya",
    "no": "tidak",
    "never": "belum pernah",
    "just_now": "baru saja",
    "ago": "{dur} lalu",
    "ahead": "{dur} lebih cepat",
    "held_for": "sejak {dur} lalu",
    "held_moment": "sejak beberapa detik lalu",
    "held_ahead": "(jam stasiun {dur} lebih cepat)",
    "dur_s": "{n} detik",
    "dur_min": "{n} menit",
    "dur_h": "{n} jam",
    "dur_d_one": "{n} hari",
    "dur_d_other": "{n} hari",
    "back": "Kembali ke ringkasan",
    "summary": "Ringkasan",
    "field_state": "Keadaan",
    "field_site": "Kantor",
    "field_profile": "Profil",
    "field_registered": "Terdaftar",
    "field_hostname": "Nama host",
    "field_agent": "Versi agen",
    "field_heartbeat": "Laporan terakhir",
    "field_clock_offset": "Selisih jam",
    "components": "Komponen",
    "col_component": "Komponen",
    "col_kind": "Jenis",
    "col_required": "Wajib",
    "col_status": "Status",
    "col_since": "Perubahan terakhir",
    "col_detail": "Pesan dari agen (tidak diterjemahkan)",
    "col_device": "Perangkat",
    "checks": "Pemeriksaan jaringan",
    "col_check": "Pemeriksaan",
    "col_latency": "Latensi",
    "host": "Kesehatan komputer stasiun",
    "host_cpu": "CPU",
    "host_load": "Beban (1 menit)",
    "host_memory": "Memori terpakai",
    "host_swap": "Swap terpakai",
    "host_temperature": "Suhu",
    "host_boot": "Dinyalakan",
    "host_disk": "Disk {mount}",
    "host_disk_usage": "{used} terpakai, {free} kosong",
    "host_none": "Belum ada laporan kesehatan komputer stasiun.",
    "unexpected": "Perangkat USB tak dikenal",
    "col_port": "Port",
    "events": "Kejadian terbaru",
    "events_unreadable": "Kejadian terbaru tidak ditampilkan: {reason}. Keadaan di atas "
                         "tetap terkini; /readyz menjelaskan apa yang dibutuhkan penyimpanan "
                         "riwayat.",
    "col_time": "Waktu",
    "col_change": "Perubahan",
    "none": "Tidak ada.",
    "not_found": "Stasiun {station} tidak ada.",
    "not_found_hint": "Periksa id di ringkasan atau di registri (fleet.toml).",
    "fleet_offices_open_one": "{n} dari {total} kantor buka sekarang",
    "fleet_offices_open_other": "{n} dari {total} kantor buka sekarang",
    "fleet_can_enroll": "{n} bisa melayani perekaman",
    "fleet_capacity_one": "kapasitas hari ini {n} orang",
    "fleet_capacity_other": "kapasitas hari ini {n} orang",
    "filter_open": "Tampilkan hanya kantor yang buka sekarang",
    "filter_all": "Tampilkan semua kantor",
    "filter_none_open": "Tidak ada kantor yang buka sekarang.",
    "hours_open": "Buka",
    "hours_closed": "Tutup",
    "hours_maintenance": "Pemeliharaan",
    "hours_local": "pukul {time} waktu setempat ({zone})",
    "hours_opens_today": "buka pukul {time}",
    "hours_opens_on": "buka {day} pukul {time}",
    "hours_no_opening": "belum ada jadwal buka",
    "maintenance_site": "Pemeliharaan sampai pukul {time}: {reason}",
    "maintenance_station": "{station} dalam pemeliharaan sampai pukul {time}: {reason}",
    "capacity_ready_one": "Kapasitas hari ini: {people} orang ({kits} perangkat siap)",
    "capacity_ready_other": "Kapasitas hari ini: {people} orang ({kits} perangkat siap)",
    "capacity_expected_one":
        "Kapasitas hari ini: {people} orang ({kits} perangkat diperkirakan siap)",
    "capacity_expected_other":
        "Kapasitas hari ini: {people} orang ({kits} perangkat diperkirakan siap)",
    "site_expected_one": "{kits} dari {total} stasiun diperkirakan siap saat buka",
    "site_expected_other": "{kits} dari {total} stasiun diperkirakan siap saat buka",
    "site_can_enroll_next": "bisa melayani perekaman saat buka",
    "site_cannot_enroll_next": "tidak bisa melayani perekaman saat buka",
    "site_switched_off": "Dimatikan setelah tutup, diperkirakan menyala lagi saat buka: {stations}",
    "day_0": "Senin",
    "day_1": "Selasa",
    "day_2": "Rabu",
    "day_3": "Kamis",
    "day_4": "Jumat",
    "day_5": "Sabtu",
    "day_6": "Minggu",
    # Parts: stand-ins, part changes, repairs and the reliability page.
    "status_standin": "alat pengganti",
    "standin_note": "{station}: {component} memakai alat pengganti, perbaikan terbuka {when}",
    "standin_hint": "perekaman memakai alat pengganti; komponen ini masih harus diganti",
    "part_changes": "Pergantian komponen",
    "change_install": "dipasang",
    "change_removal": "dilepas",
    "change_swap": "diganti",
    "col_before": "Sebelumnya",
    "reliability_link": "Keandalan",
    "reliability_title": "Pantau: keandalan",
    "rel_intro": "Angka per {when}. Ketersediaan adalah bagian jam buka ketika stasiun siap; "
                 "waktu pemeliharaan tidak dihitung.",
    "rel_none": "Belum ada angka: dihitung tiap menit dari riwayat.",
    "rel_sites": "Ketersediaan per kantor",
    "col_today": "Hari ini",
    "col_7d": "7 hari terakhir",
    "col_30d": "30 hari terakhir",
    "col_open_repairs": "Perbaikan terbuka",
    "col_ttr_median": "Waktu perbaikan (median, 30 hari)",
    "col_ttr_p90": "Waktu perbaikan (90%, 30 hari)",
    "rel_roles": "Waktu perbaikan per komponen (30 hari)",
    "col_closed": "Perbaikan selesai",
    "rel_models": "Kerusakan per model alat (30 hari)",
    "col_model": "Model alat",
    "col_kit_days": "Hari-kit",
    "col_failures": "Kerusakan",
    "col_per_1000": "Per 1.000 hari-kit",
    "col_mtbf": "Rata-rata waktu antar kerusakan",
    "rel_open": "Perbaikan yang masih terbuka",
    "col_model_to_order": "Model alat yang dipesan",
    "col_open_for": "Terbuka selama",
    "col_ordered": "Dipesan",
    "col_ticket": "Tiket",
    "rel_stations": "Stasiun dengan ketersediaan terendah (7 hari terakhir)",
    "col_station": "Stasiun",
    "col_availability": "Ketersediaan",
    "rollout_due": "terpasang paling lambat {date}",
    "rollout_overdue": "batas waktu {date} terlewati",
}

STRINGS: Final[dict[Lang, dict[str, str]]] = {"en": EN, "id": ID}


def template(lang: Lang, key: str) -> str:
    """The raw string `key` in `lang`, `{placeholders}` unfilled."""
    return STRINGS[lang][key]


def text(lang: Lang, key: str, **values: object) -> str:
    """The string `key` in `lang`, with `values` filled in (callers escape the result)."""
    return STRINGS[lang][key].format(**values)


def choose_lang(query: str | None, accept_language: str | None) -> Lang:
    """`?lang=` wins; otherwise the best supported Accept-Language entry; else English."""
    if query in LANGS:
        return query
    best: tuple[float, Lang] | None = None
    for position, entry in enumerate((accept_language or "").split(",")):
        tag, _, params = entry.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        if base not in LANGS:
            continue
        weight = _quality(params) - position * 1e-6  # earlier wins among equal weights
        if weight > 0 and (best is None or weight > best[0]):
            best = (weight, base)
    return best[1] if best else DEFAULT_LANG


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def plural_key(key: str, count: int) -> str:
    """`key_one` for exactly one, `key_other` otherwise (English rules; see the module doc)."""
    return f"{key}_one" if count == 1 else f"{key}_other"


def duration(lang: Lang, seconds: float) -> str:
    """A coarse, readable length of time: "5 min" / "5 menit", "1 day" / "2 days"."""
    s = int(abs(seconds))
    if s < 60:
        return text(lang, "dur_s", n=s)
    if s < 3600:
        return text(lang, "dur_min", n=s // 60)
    if s < 86400:
        return text(lang, "dur_h", n=s // 3600)
    days = s // 86400
    return text(lang, plural_key("dur_d", days), n=days)


def relative_time(lang: Lang, ts: float | None, now: float) -> str:
    """ "5 min ago" / "5 menit lalu"; a time ahead of `now` (station clock ahead) says so."""
    if ts is None:
        return text(lang, "never")
    delta = now - ts
    if abs(delta) < 5:
        return text(lang, "just_now")
    return text(lang, "ago" if delta > 0 else "ahead", dur=duration(lang, delta))


def held_for(lang: Lang, since: float, now: float) -> str:
    """How long something has been in its state: "for 5 min" / "sejak 5 menit lalu".

    Said as a length, not a point in time: "missing since 5 min ago" is not
    English, and "online (5 min ago)" reads as "last online 5 min ago".
    """
    delta = now - since
    if delta <= -5:  # the station's clock is ahead of ours; say so instead of guessing
        return text(lang, "held_ahead", dur=duration(lang, delta))
    if delta < 5:
        return text(lang, "held_moment")
    return text(lang, "held_for", dur=duration(lang, delta))
