from django.db import migrations, models


def mark_public(apps, schema_editor):
    from cases.seed import PUBLIC_CATEGORIES

    apps.get_model("cases", "Category").objects.filter(code__in=PUBLIC_CATEGORIES).update(
        public=True
    )


class Migration(migrations.Migration):
    dependencies = [("cases", "0006_territory_cell_workers")]

    operations = [
        migrations.AddField(
            model_name="category",
            name="public",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Cases of this kind may be read by anyone through Open311 (street lights, "
                    "litter, potholes). Disputes and safety hazards never are."
                ),
                verbose_name="public",
            ),
        ),
        migrations.AddConstraint(
            model_name="category",
            constraint=models.CheckConstraint(
                condition=~models.Q(public=True, is_dispute=True)
                & ~models.Q(public=True, is_hazard=True),
                name="category_public_never_dispute_or_hazard",
            ),
        ),
        migrations.RunPython(mark_public, migrations.RunPython.noop),
    ]
