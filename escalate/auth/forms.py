from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import EmailField, PasswordField, StringField, SubmitField
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


class SecondStepForm(Form):
    code = StringField(
        "Code from your authenticator app",
        description="The 6 digits it shows now for escalate. Lost your phone? Enter one of "
        "your recovery codes instead.",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the code from your authenticator app"),
            at_most(wording.MAX_CODE_CHARACTERS, "The code"),
        ],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SetUpTwoFactorForm(Form):
    code = StringField(
        "Code from your authenticator app",
        description="Once the app has added escalate, enter the 6 digits it shows.",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the code from your authenticator app"),
            at_most(wording.MAX_CODE_CHARACTERS, "The code"),
        ],
    )
    submit = SubmitField("Turn on two-factor sign-in", widget=GovSubmitInput())
