"""app.core.forms.SelectField: WTForms' markup, rendered sooner."""

import pytest
import wtforms
from markupsafe import Markup
from wtforms import Form
from wtforms.fields.choices import SelectChoice

from app.core.forms import SelectField

CHOICES = [
    SelectChoice("Europe/Dublin", "Europe/Dublin"),
    SelectChoice("a<b&\"c'", 'L<&">'),  # a value and a label that must be escaped
    SelectChoice("", "Choose…"),
    SelectChoice(True, ""),  # a bool value is written as text; an empty label shows the value
    SelectChoice(7, "Seven"),
    SelectChoice(Markup('x"><b>'), Markup("<i>safe</i>")),  # Markup: trusted, but no way out
    SelectChoice("gift", "Gift wrap", render_kw={"disabled": True}),  # its own attributes
]


class Theirs(Form):
    pick = wtforms.SelectField(choices=CHOICES)


class Ours(Form):
    pick = SelectField(choices=CHOICES)


@pytest.mark.parametrize("chosen", ["Europe/Dublin", "a<b&\"c'", "", "7", "gift", None])
def test_the_same_markup_as_wtforms_with_any_option_chosen(chosen):
    data = {} if chosen is None else {"pick": chosen}
    ours, theirs = Ours(data=data).pick, Theirs(data=data).pick
    assert str(ours(class_="wide")) == str(theirs(class_="wide"))
    assert (" selected" in str(ours())) == (chosen is not None)


def test_a_chosen_value_survives_a_posted_form():
    from werkzeug.datastructures import MultiDict

    form = Ours(MultiDict({"pick": "a<b&\"c'"}))
    assert form.validate()
    assert '<option selected value="a&lt;b&amp;&#34;c&#39;">L&lt;&amp;&#34;&gt;</option>' in str(
        form.pick()
    )
