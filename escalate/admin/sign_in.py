"""Administration of signing in: who must use two-factor sign-in, single sign-on as configured,
and resetting a person's two-factor sign-in when they lose their phone. (Whether an agency's
people may use passwords is set on the agency's own page.)"""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from escalate import presentation, queries, services
from escalate.admin import forms
from escalate.admin.views import _refused, _saved, admin_only, bp
from escalate.workflow import InvalidRequest


@bp.route("/admin/sign-in", methods=["GET", "POST"])
@admin_only
def sign_in_settings():
    settings = queries.setup.partnership_settings()
    form = forms.TwoFactorSettingForm(
        data={"for_everyone": "yes" if settings.two_factor_for_everyone else "no"}
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        changed = services.setup.change_two_factor_for_everyone(
            current_user, form.for_everyone.data == "yes", presentation.now()
        )
        _saved(changed, "Who must use two-factor sign-in")
        return redirect(url_for("admin.sign_in_settings"))
    return render_template(
        "admin/sign_in.html",
        form=form,
        issuer=current_app.config.get("OIDC_ISSUER"),
        provider_name=current_app.config.get("OIDC_PROVIDER_NAME"),
        agencies=queries.setup.agencies_without_passwords(),
    )


@bp.route("/admin/users/<int:user_id>/reset-two-factor", methods=["POST"])
@admin_only
def reset_two_factor(user_id):
    if forms.ConfirmForm().validate_on_submit():
        try:
            user = services.two_factor.reset(current_user, user_id, presentation.now())
        except InvalidRequest as error:
            _refused(error)
        else:
            flash(
                f"{user.name}'s two-factor sign-in has been reset and they have been signed out. "
                "The next time they sign in with their password they set up their "
                "authenticator app again.",
                "success",
            )
    return redirect(url_for("admin.user", user_id=user_id))
