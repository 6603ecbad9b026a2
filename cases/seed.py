"""Reference data GridCase starts with; administrators edit it afterwards.

Migration 0002 loads it once. Holidays: the State Council's 2026 arrangement;
migration 0005 and `manage.py load_calendar` load every year the installed
chinesecalendar carries (cases.calendar_sources), and a newer notice from a file.
"""

from __future__ import annotations

from datetime import date, timedelta

# (code, 中文, English, dispute, hazard)
CATEGORIES: list[tuple[str, str, str, bool, bool]] = [
    ("01", "矛盾纠纷", "Disputes", True, False),
    ("0101", "邻里纠纷", "Neighbour dispute", True, False),
    ("0102", "婚姻家庭纠纷", "Family dispute", True, False),
    ("0103", "物业纠纷", "Property-management dispute", True, False),
    ("0104", "劳动纠纷", "Labour dispute", True, False),
    ("0105", "房屋土地纠纷", "Housing or land dispute", True, False),
    ("0199", "其他纠纷", "Other dispute", True, False),
    ("02", "物业/房屋", "Property and housing", False, False),
    ("0201", "房屋漏水", "Leaking building", False, False),
    ("0202", "公共设施损坏", "Damaged public facility", False, False),
    ("0203", "违章搭建", "Illegal construction", False, False),
    ("0204", "电梯故障", "Lift out of order", False, False),
    ("03", "安全隐患", "Safety hazards", False, True),
    ("0301", "消防安全隐患", "Fire hazard", False, True),
    ("0302", "房屋建筑安全隐患", "Building hazard", False, True),
    ("0303", "燃气安全隐患", "Gas hazard", False, True),
    ("0304", "用电安全隐患", "Electrical hazard", False, True),
    ("04", "环境卫生", "Environment and sanitation", False, False),
    ("0401", "垃圾堆放", "Rubbish dumping", False, False),
    ("0402", "污水外溢", "Sewage overflow", False, False),
    ("0403", "噪声扰民", "Noise nuisance", False, False),
    ("0404", "绿化损毁", "Damaged greenery", False, False),
    ("05", "治安", "Public order", False, False),
    ("0501", "治安隐患", "Public-order risk", False, False),
    ("0502", "群租房", "Overcrowded rental", False, False),
    ("99", "其他", "Other", False, False),
    ("9999", "其他事项", "Other matter", False, False),
]

# Kinds anyone may read through Open311 (公开): things in the street, no person in them.
# Administrators change this in the admin; disputes and hazards can never be public.
PUBLIC_CATEGORIES = {"0202", "0401", "0402", "0404"}

# (step, urgency) -> (amount, unit); the default for every category.
DEFAULT_LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("triage", "emergency"): (1, "hours"),
    ("triage", "general"): (2, "working_hours"),
    ("triage", "complex"): (4, "working_hours"),
    ("dispatch", "emergency"): (1, "hours"),
    ("dispatch", "general"): (4, "working_hours"),
    ("dispatch", "complex"): (1, "working_days"),
    ("handling", "emergency"): (2, "hours"),
    ("handling", "general"): (7, "working_days"),
    ("handling", "complex"): (15, "working_days"),
    ("mediation", "emergency"): (1, "working_days"),
    ("mediation", "general"): (7, "working_days"),
    ("mediation", "complex"): (15, "working_days"),
    ("verify", "emergency"): (4, "hours"),
    ("verify", "general"): (2, "working_days"),
    ("verify", "complex"): (3, "working_days"),
    ("return_visit", "emergency"): (1, "working_days"),
    ("return_visit", "general"): (3, "working_days"),
    ("return_visit", "complex"): (5, "working_days"),
}

# Safety hazards are handled faster than the default.
CATEGORY_LIMITS: dict[tuple[str, str, str], tuple[int, str]] = {
    ("03", "handling", "general"): (3, "working_days"),
    ("03", "handling", "complex"): (7, "working_days"),
}

# (first day, last day, name) off; then make-up working days (调休).
HOLIDAYS_2026 = [
    ("2026-01-01", "2026-01-03", "元旦"),
    ("2026-02-15", "2026-02-23", "春节"),
    ("2026-04-04", "2026-04-06", "清明节"),
    ("2026-05-01", "2026-05-05", "劳动节"),
    ("2026-06-19", "2026-06-21", "端午节"),
    ("2026-09-25", "2026-09-27", "中秋节"),
    ("2026-10-01", "2026-10-07", "国庆节"),
]
MAKEUP_WORKDAYS_2026 = [
    ("2026-01-04", "元旦调休"),
    ("2026-02-14", "春节调休"),
    ("2026-02-28", "春节调休"),
    ("2026-05-09", "劳动节调休"),
    ("2026-09-20", "国庆节调休"),
    ("2026-10-10", "国庆节调休"),
]


def load_reference_data(Category, DeadlineRule, CalendarDay) -> None:  # noqa: N803
    """Write the data above where missing; takes the models so migrations can pass theirs."""
    by_code = {}
    # Migration 0002's historical model predates the public flag (0006 sets it there).
    has_public = any(field.name == "public" for field in Category._meta.get_fields())
    for code, name, name_en, dispute, hazard in CATEGORIES:
        defaults = dict(
            name=name,
            name_en=name_en,
            is_dispute=dispute,
            is_hazard=hazard,
            parent=by_code.get(code[:2]) if len(code) > 2 else None,
        )
        if has_public:
            defaults["public"] = code in PUBLIC_CATEGORIES
        by_code[code], _ = Category.objects.get_or_create(code=code, defaults=defaults)
    for (step, urgency), (amount, unit) in DEFAULT_LIMITS.items():
        DeadlineRule.objects.get_or_create(
            step=step, urgency=urgency, category=None, defaults=dict(amount=amount, unit=unit)
        )
    for (code, step, urgency), (amount, unit) in CATEGORY_LIMITS.items():
        DeadlineRule.objects.get_or_create(
            step=step,
            urgency=urgency,
            category=by_code[code],
            defaults=dict(amount=amount, unit=unit),
        )
    for first, last, name in HOLIDAYS_2026:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            CalendarDay.objects.get_or_create(day=day, defaults=dict(is_workday=False, name=name))
            day += timedelta(days=1)
    for day, name in MAKEUP_WORKDAYS_2026:
        CalendarDay.objects.get_or_create(
            day=date.fromisoformat(day), defaults=dict(is_workday=True, name=name)
        )
