from datetime import date, timedelta

from django.db import migrations


def seed(apps, schema_editor):
    from cases import seed as data

    Category = apps.get_model("cases", "Category")
    DeadlineRule = apps.get_model("cases", "DeadlineRule")
    CalendarDay = apps.get_model("cases", "CalendarDay")
    by_code = {}
    for code, name, name_en, dispute, hazard in data.CATEGORIES:
        by_code[code], _ = Category.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name, name_en=name_en, is_dispute=dispute, is_hazard=hazard,
                parent=by_code.get(code[:2]) if len(code) > 2 else None,
            ),
        )
    for (step, urgency), (amount, unit) in data.DEFAULT_LIMITS.items():
        DeadlineRule.objects.get_or_create(
            step=step, urgency=urgency, category=None, defaults=dict(amount=amount, unit=unit)
        )
    for (code, step, urgency), (amount, unit) in data.CATEGORY_LIMITS.items():
        DeadlineRule.objects.get_or_create(
            step=step, urgency=urgency, category=by_code[code],
            defaults=dict(amount=amount, unit=unit),
        )
    for first, last, name in data.HOLIDAYS_2026:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            CalendarDay.objects.get_or_create(day=day, defaults=dict(is_workday=False, name=name))
            day += timedelta(days=1)
    for day, name in data.MAKEUP_WORKDAYS_2026:
        CalendarDay.objects.get_or_create(
            day=date.fromisoformat(day), defaults=dict(is_workday=True, name=name)
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
