"""Forms: the input of each action in the loop table, for the case page and the API alike.

They only parse input; every rule lives in cases.services. An action form's
fields are its service's keyword arguments (cases.loop checks this at
start-up), so the cleaned data is passed to the service as it is.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from cases.models import REJECTION_REASONS, Category, ClosureReason, Satisfaction, Source, Urgency
from grid.models import Community, Department, Street
from grid.territory import Territory

User = get_user_model()


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    widget = MultipleFileInput(attrs={"accept": "image/*", "multiple": True})

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(PhotosField, self).clean(f, initial) for f in files]


def category_choices():
    groups = {}
    for category in Category.objects.filter(active=True).select_related("parent"):
        if category.parent_id:
            groups.setdefault(category.parent.display_name, []).append(
                (category.code, f"{category.code} {category.display_name}")
            )
    return [("", "---------"), *groups.items()]


class YesNoField(forms.TypedChoiceField):
    """A yes or a no, as radio buttons on the page and true/false (or 1/0) from the API."""

    YES = frozenset({"true", "1", "yes", "on"})
    NO = frozenset({"false", "0", "no", "off"})

    def __init__(self, *, yes: str, no: str, **kwargs):
        kwargs.setdefault("widget", forms.RadioSelect)
        super().__init__(choices=[("true", yes), ("false", no)], coerce=self.is_yes, **kwargs)

    @staticmethod
    def is_yes(value: str) -> bool:
        return value == "true"

    def to_python(self, value):
        if value in self.empty_values:
            return ""
        text = str(value).strip().lower()
        return "true" if text in self.YES else "false" if text in self.NO else text


class StepForm(forms.Form):
    """Any action on a case's step. task_id, when given, refuses a stale form."""

    task_id = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, case=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.user = user


class ActionForm(StepForm):
    """An action on the step the person saw; client_id makes a retried one count once.

    task_id is required here: without it, of two people acting on one step at
    once the second would act on whatever step the first moved the case to.
    """

    task_id = forms.IntegerField(widget=forms.HiddenInput)
    client_id = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def clean_client_id(self) -> str | None:
        return self.cleaned_data.get("client_id") or None  # blank: no retry to recognise


class TriageForm(ActionForm):
    ROUTES = [
        ("onsite", _("On-site handling by the grid worker")),
        ("mediation", _("Mediation (disputes)")),
        ("street_dispatch", _("Up to the street for dispatch")),
    ]
    route = forms.ChoiceField(label=_("Route"), choices=ROUTES)
    # Blank: keep the category and urgency the case was reported with.
    category = forms.ChoiceField(label=_("Category"), required=False)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, required=False)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()
        if self.case is not None:
            self.initial.setdefault("category", self.case.category.code)
            self.initial.setdefault("urgency", self.case.urgency)

    def clean_category(self) -> Category | None:
        code = self.cleaned_data.get("category")
        return Category.objects.get(code=code) if code else None


REJECT_CHOICES = [(r.value, r.label) for r in REJECTION_REASONS]


class RejectForm(ActionForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=REJECT_CHOICES)
    duplicate_of = forms.CharField(
        label=_("Duplicate of case number"), required=False, max_length=32
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == ClosureReason.DUPLICATE and not data.get("duplicate_of"):
            self.add_error("duplicate_of", _("Name the case this one duplicates."))
        return data


class ReturnForm(ActionForm):
    reason = forms.CharField(
        label=_("Why it is not ours"), widget=forms.Textarea(attrs={"rows": 2})
    )


class DispatchForm(ActionForm):
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.none(), required=False
    )
    to_mediation = forms.BooleanField(label=_("To the street mediation centre"), required=False)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.case is not None:
            street = self.case.street
            self.fields["department"].queryset = Department.objects.filter(
                street=street
            ) | Department.objects.filter(district_id=street.district_id)

    def clean(self):
        data = super().clean()
        if not data.get("department") and not data.get("to_mediation"):
            raise forms.ValidationError(_("Choose a department or the mediation centre."))
        return data


class HandleForm(ActionForm):
    result = forms.CharField(label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}))
    photos = PhotosField(label=_("Photos"), required=False)


class MediateForm(ActionForm):
    success = YesNoField(label=_("Outcome"), yes=_("Agreement reached"), no=_("Mediation failed"))
    note = forms.CharField(
        label=_("Agreement, or why it failed"), widget=forms.Textarea(attrs={"rows": 3})
    )


class VerifyForm(ActionForm):
    passed = YesNoField(label=_("On site"), yes=_("Fixed"), no=_("Not fixed: back to the handler"))
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    photos = PhotosField(label=_("Photos"), required=False)


class ReturnVisitForm(ActionForm):
    satisfaction = forms.ChoiceField(
        label=_("Resident's rating"), choices=Satisfaction.choices, widget=forms.RadioSelect
    )
    words = forms.CharField(
        label=_("The resident's words"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Not given (an API client): reopen, as the rule says by default.
    reopen = YesNoField(
        label=_("If unsatisfied"),
        yes=_("Reopen for handling again"),
        no=_("Close as unsatisfied"),
        required=False,
        empty_value=True,
        initial="true",
    )


class UrgeForm(ActionForm):
    note = forms.CharField(
        label=_("What must happen, by when"), widget=forms.Textarea(attrs={"rows": 2})
    )
    due = forms.DateTimeField(
        label=_("An earlier deadline (optional)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class ReassignForm(ActionForm):
    to = forms.ModelChoiceField(label=_("To"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.case is not None:
            from cases.services.ownership import owners

            self.fields["to"].queryset = owners(self.case)
            self.fields["to"].label_from_instance = lambda u: u.get_full_name() or u.username


class TakeOverForm(ActionForm):
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))


class TransferForm(ActionForm):
    """转办: the case lies in another unit than the one it was placed in."""

    community = forms.ModelChoiceField(
        label=_("To the community"),
        queryset=Community.objects.order_by("code"),
        to_field_name="code",
        required=False,
    )
    street = forms.ModelChoiceField(
        label=_("Or to the street (no community)"),
        queryset=Street.objects.order_by("code"),
        to_field_name="code",
        required=False,
    )
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the units the person may see: another street's stay unnamed.
        territory = Territory.for_user(self.user) if self.user is not None else Territory()
        self.fields["community"].queryset = territory.communities().order_by("code")
        self.fields["street"].queryset = territory.streets().order_by("code")

    def clean(self):
        data = super().clean()
        if bool(data.get("community")) == bool(data.get("street")):
            raise forms.ValidationError(_("Choose either a community or a street."))
        return data


class MarkReadForm(forms.Form):
    """One notification by its id, or (none given) all of them."""

    id = forms.IntegerField(required=False, min_value=1)


class PreferencesForm(forms.Form):
    """Which kinds reach me on which channel outside the app, and my mobile for SMS.

    `wanted` holds "kind:channel" pairs; the page draws them as a table.
    """

    phone = forms.RegexField(
        label=_("Mobile phone (for SMS)"),
        regex=r"^\+?[0-9]{6,20}$",
        max_length=20,
        required=False,
        error_messages={"invalid": _("Digits only, as 13800138000.")},
    )
    wanted = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, kinds, channels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["wanted"].choices = [
            (pair, pair)
            for pair in (f"{kind}:{channel}" for kind, _l in kinds for channel, _c in channels)
        ]

    def pairs(self) -> set[tuple[str, str]]:
        return {tuple(item.split(":", 1)) for item in self.cleaned_data["wanted"]}


class ReportForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"))
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=Urgency.choices, initial=Urgency.GENERAL
    )
    major_hazard = forms.BooleanField(label=_("Major safety hazard"), required=False)
    description = forms.CharField(
        label=_("Description"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[(Source.HOTLINE, Source.HOTLINE.label), (Source.WALK_IN, Source.WALK_IN.label)],
    )
    reporter_name = forms.CharField(label=_("Reporter's name"), max_length=60, required=False)
    reporter_phone = forms.CharField(label=_("Reporter's phone"), max_length=30, required=False)
    reporter_consent = forms.BooleanField(
        label=_("The resident agrees to be called back on this number"), required=False
    )
    party1_name = forms.CharField(label=_("Party 1"), max_length=60, required=False)
    party1_phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    party2_name = forms.CharField(label=_("Party 2"), max_length=60, required=False)
    party2_phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    photos = PhotosField(label=_("Photos"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()

    def parties(self) -> list[dict]:
        return [
            {
                "name": self.cleaned_data[f"party{i}_name"],
                "phone": self.cleaned_data[f"party{i}_phone"],
            }
            for i in (1, 2)
            if self.cleaned_data.get(f"party{i}_name")
        ]


class BulkForm(forms.Form):
    ACTIONS = [
        ("reject", _("Reject")),
        ("merge", _("Merge as duplicates of")),
        ("dispatch", _("Dispatch")),
    ]
    numbers = forms.MultipleChoiceField(label=_("Cases"))
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    reason = forms.ChoiceField(label=_("Reason"), choices=REJECT_CHOICES, required=False)
    duplicate_of = forms.CharField(label=_("Original case number"), required=False)
    route = forms.ChoiceField(label=_("Route"), choices=TriageForm.ROUTES, required=False)
    note = forms.CharField(label=_("Note"), required=False)

    def __init__(self, *args, numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["numbers"].choices = [(n, n) for n in numbers]

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "merge" and not data.get("duplicate_of"):
            self.add_error("duplicate_of", _("Name the original case."))
        if action == "reject" and not data.get("reason"):
            self.add_error("reason", _("Choose a rejection reason."))
        if action == "dispatch" and not data.get("route"):
            self.add_error("route", _("Choose where the cases go."))
        return data
