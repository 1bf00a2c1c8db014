from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import InputRequired

from escalate import wording
from escalate.fields import Form, at_most


class SignInForm(Form):
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter your email address"),
            at_most(wording.MAX_EMAIL_CHARACTERS, "Email address"),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter your password"),
            at_most(wording.MAX_PASSWORD_CHARACTERS, "Password"),
        ],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())
