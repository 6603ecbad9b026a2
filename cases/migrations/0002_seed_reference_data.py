from django.db import migrations


def seed(apps, schema_editor):
    from cases.seed import load_reference_data

    load_reference_data(
        apps.get_model("cases", "Category"),
        apps.get_model("cases", "DeadlineRule"),
        apps.get_model("cases", "CalendarDay"),
    )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
