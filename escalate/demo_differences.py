"""The demo partnership's differences, raised and acted on by `flask escalate seed-demo` after
its agencies and people (``escalate.demo``): each as its raiser records it and what happens to it
afterwards. Every name, organisation, child and case here is invented."""

from escalate.demo import (
    AISHA,
    ANNA,
    BEN,
    CHAIR,
    CSC,
    DAVID,
    EARLY_HELP,
    EMMA,
    GP,
    GRACE,
    HELEN,
    JO,
    KATE,
    LEAH,
    MARK,
    MIA,
    PETER,
    POLICE,
    PRIYA,
    RUTH_BELL,
    SAM,
    SCHOOL,
    TOM,
    TRUST,
    Scenario,
    step,
)
from escalate.models import Category, Outcome
from escalate.workflow import Action

SCENARIOS = [
    # Stage 1, waiting for a response, overdue: a school thinks its referral met the threshold.
    Scenario(
        raiser=KATE,
        receiving=CSC,
        named=LEAH,
        child_reference="NA-4471",
        child_initials="LB",
        child_age_months=110,
        category=Category.THRESHOLD,
        decision="Children's social care closed our referral about LB on the day it arrived, "
        "advising the family to ask early help for support. No assessment was started.",
        reasons="LB has come to school hungry most days this term, in the same clothes, and has "
        "told staff she looks after her little brother in the evenings because mum is asleep. "
        "Her attendance has dropped to 81%. Taken together we think this is neglect, and it "
        "needs a social work assessment, not an offer of help the family can turn down.",
        desired_outcome="A social work assessment of LB and her brother, with the school asked "
        "to contribute.",
        raised_days_ago=8,
        informal_discussion="I phoned Leah Morgan the day the decision was made. She said the "
        "referral did not show a risk of significant harm and that early help could be offered.",
    ),
    # Stage 1, waiting for a response, urgent: the police want a strategy discussion today.
    Scenario(
        raiser=TOM,
        receiving=CSC,
        named=SAM,
        child_reference="NP-88120",
        child_initials="RD",
        child_age_months=14,
        category=Category.SECTION_47,
        decision="Children's social care decided this morning that no strategy discussion is "
        "needed and that the social worker will visit the family within the week.",
        reasons="RD is 14 months old and was in the room when his mother was assaulted last "
        "night. It is the third incident in two months, and the father's bail condition keeping "
        "him away from the home ends in seven days. We think a strategy discussion is needed now "
        "to decide whether child protection enquiries should start before he can return.",
        desired_outcome="A strategy discussion today or tomorrow with the police, health and "
        "children's social care.",
        raised_days_ago=0,
        informal_discussion="I spoke to Sam Okafor by phone at 9:15 this morning. He said his "
        "manager had decided that a visit within the week was enough.",
        protective_action="The father was arrested last night and is on bail with a condition "
        "not to go to the address. The out-of-hours social worker was told by phone at 23:40 "
        "and RD's mother has a safety plan and the number to call.",
    ),
    # Stage 1, waiting for the raising side: the police agreed to share incidents with early help.
    Scenario(
        raiser=MIA,
        receiving=POLICE,
        named=None,
        child_reference="EH-1093",
        child_initials="TW",
        child_age_months=86,
        category=Category.INFORMATION_SHARING,
        decision="The police did not tell early help about two incidents of domestic abuse at the "
        "family's home last month, although the police are part of the family's early help plan.",
        reasons="I only found out from TW's mum at a home visit, two weeks after the second "
        "incident. The safety steps in the plan for TW and his sister were written without "
        "knowing this, so the support I am giving does not match the risk to them.",
        desired_outcome="The police to tell the early help worker about any incident at the home "
        "within one working day, as the plan says.",
        raised_days_ago=4,
        steps=(
            step(
                1,
                TOM,
                Action.RESPOND,
                outcome=Outcome.AGREED,
                rationale="Both incidents were reported to children's social care, but the "
                "early help plan was not flagged on our system, so nobody told you directly. "
                "That should not have happened.",
                child_impact="TW's safety plan can be updated with the full picture, and any "
                "future incident will reach his early help worker quickly.",
                actions=(
                    (
                        "Flag the family's address on the police system, so that any incident "
                        "there is emailed to Mia Jones within one working day.",
                        "receiving",
                        0,
                    ),
                    ("Brief the response team sergeants on the early help plan.", "receiving", 10),
                ),
            ),
        ),
    ),
    # Stage 2, waiting for a response, overdue: a health visitor thinks a case was closed too early.
    Scenario(
        raiser=RUTH_BELL,
        receiving=CSC,
        named=SAM,
        child_reference="NHS-55802",
        child_initials="EP",
        child_age_months=20,
        category=Category.CLOSURE,
        decision="Children's social care closed EP's child in need plan after 12 weeks, saying "
        "the family's situation had improved.",
        reasons="Mum's mental health is still poor: she stopped her medication last month and "
        "missed two appointments with the perinatal mental health team. EP is losing weight and "
        "the home was in a poor state at my visit on Tuesday. Things only improved while social "
        "work visits were happening.",
        desired_outcome="Keep the child in need plan open for at least three more months, with a "
        "review meeting that includes health.",
        raised_days_ago=14,
        informal_discussion="I raised this at the closing meeting with Sam Okafor. He said his "
        "manager had already made the decision.",
        steps=(
            step(
                11,
                SAM,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="The plan's goals were met: mum took part in every visit, the home was "
                "safe at the last three visits and she now has support from the perinatal team. "
                "Keeping the plan open without a clear purpose would not help EP.",
                child_impact="EP keeps the health visiting service and mum keeps the perinatal "
                "team. The family can be referred again if things change.",
            ),
            step(
                10,
                RUTH_BELL,
                Action.ESCALATE,
                rationale="The response does not deal with EP's weight loss or mum stopping her "
                "medication, both of which happened after the last social work visit. I am "
                "asking our managers to look at this together.",
            ),
        ),
    ),
    # Stage 3, waiting for a response, with a recorded conversation: a GP disagrees with the
    # decision not to arrange a child protection medical.
    Scenario(
        raiser=EMMA,
        receiving=CSC,
        named=SAM,
        child_reference="RMP-70215",
        child_initials="JT",
        child_age_months=50,
        category=Category.MEDICAL,
        decision="Children's social care decided that JT does not need a child protection "
        "medical for the bruises on his upper arm.",
        reasons="JT is four. The bruises are fingertip-shaped, on the inside of the upper arm, "
        "and the explanation given, a fall from a scooter, does not fit them. Bruises like "
        "these need a children's doctor to look at them, and that chance is lost once they fade.",
        desired_outcome="A child protection medical with the paediatrician this week.",
        raised_days_ago=12,
        informal_discussion="I phoned Sam Okafor the same afternoon. He said the mother's "
        "explanation was consistent and JT was happy at nursery.",
        steps=(
            step(
                9,
                SAM,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="The nursery and the health visitor have no other worries, JT's account "
                "matched his mother's, and I saw the scooter. We do not think the bruising shows "
                "a risk of significant harm.",
                child_impact="JT stays at home with his family. The social worker will visit "
                "again in two weeks.",
            ),
            step(
                8,
                EMMA,
                Action.ESCALATE,
                rationale="The decision rests on the parents' account and does not explain the "
                "shape and position of the bruises. Only a medical opinion can, and time is "
                "running out.",
            ),
            step(
                5,
                JO,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="I have reviewed the case with the social worker. There is no history "
                "of injuries, and a medical would be distressing for JT without a clear reason.",
                child_impact="No medical. The social worker will keep seeing JT at home and at "
                "nursery.",
            ),
            step(
                3,
                DAVID,
                Action.ESCALATE,
                rationale="As the practice's safeguarding lead I agree with Dr Clarke. Fingertip "
                "bruises on the inside of the arm suggest gripping, and the explanation does not "
                "fit. We are asking the designated doctor to take this up.",
            ),
            step(
                1,
                ANNA,
                Action.RECORD_CONVERSATION,
                participants="Dr Anna Fisher (designated doctor) and Priya Shah (head of service)",
                agreed="Priya Shah will read the case file and the GP's notes and photographs, "
                "and speak to the paediatrician on call, before giving a written response by "
                "the deadline.",
            ),
        ),
    ),
    # The final stage, waiting for the partnership and overdue (the final stage never escalates
    # automatically, so it stays overdue after a sweep): which agency should lead when a child
    # may be being exploited. Escalated to the partnership by the responder at stage 3.
    Scenario(
        raiser=MIA,
        receiving=CSC,
        named=None,
        child_reference="EH-1187",
        child_initials="KS",
        child_age_months=170,
        category=Category.ROLES,
        decision="Children's social care says early help should stay the lead agency for KS, "
        "who has gone missing four times since September.",
        reasons="KS, who is 14, has twice been found in another town with older young men. She "
        "has new clothes and a second phone, and has stopped going to school. These are signs "
        "of criminal exploitation. Early help works with families who agree to it and cannot "
        "carry out child protection enquiries.",
        desired_outcome="Children's social care to take the lead, with a strategy discussion "
        "about exploitation and an assessment.",
        raised_days_ago=24,
        informal_discussion="Discussed at the family's support meeting with the children's "
        "social care duty manager, who said the threshold was not met.",
        steps=(
            step(
                22,
                LEAH,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="Each time KS went missing she came home within a day, and the family "
                "are working with early help. The risk was judged to be manageable with early "
                "help support.",
                child_impact="KS keeps her early help support, and each missing episode will "
                "still be reviewed by the police.",
            ),
            step(
                21,
                MIA,
                Action.ESCALATE,
                rationale="The response looks at each missing episode on its own. Taken together "
                "with the signs of exploitation, KS needs a child protection response, which "
                "early help cannot give.",
            ),
            step(
                18,
                JO,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="We looked at the pattern. KS has not told anyone she is being harmed, "
                "the family are cooperating, and a worker KS already trusts is more likely to "
                "keep her talking than a new social worker.",
                child_impact="KS keeps the worker she trusts. We will look again if she goes "
                "missing again.",
            ),
            step(
                17,
                BEN,
                Action.ESCALATE,
                rationale="KS went missing again at the weekend. Keeping a trusted worker does "
                "not mean early help should hold a risk of exploitation it has no powers to "
                "manage.",
            ),
            step(
                12,
                PRIYA,
                Action.ESCALATE,
                rationale="Our agencies read the partnership's guidance differently on who leads "
                "when exploitation is suspected but a child has not said she is being harmed. "
                "That needs the partnership to decide, so I cannot resolve it at this level.",
            ),
        ),
    ),
    # Resolved at stage 1: the school agreed and the social worker accepted.
    Scenario(
        raiser=SAM,
        receiving=SCHOOL,
        named=KATE,
        child_reference="CSC-20431",
        child_initials="MH",
        child_age_months=134,
        category=Category.DRIFT,
        decision="The school has not sent MH's weekly attendance figures since half term, "
        "although his child protection plan says it will.",
        reasons="MH's attendance is one of the main ways the plan checks whether things are "
        "getting better at home. Without it the professionals working on the plan cannot tell "
        "whether MH is safe on the days he is absent, and the last review had no figures at all.",
        desired_outcome="Attendance figures every Friday, and someone at the school to send them "
        "when the designated safeguarding lead is away.",
        raised_days_ago=25,
        informal_discussion="I emailed Kate Murphy twice last month and did not get a reply.",
        steps=(
            step(
                22,
                KATE,
                Action.RESPOND,
                outcome=Outcome.AGREED,
                rationale="The figures stopped when our attendance officer left at half term and "
                "nobody picked up the task. That was our mistake, and I am sorry it left a gap "
                "in MH's plan.",
                child_impact="The professionals will know each week whether MH is in school, and "
                "any absence will be followed up the same day.",
                # Two actions, both due long ago and not yet marked done: Kate Murphy can mark
                # one done, and Sam Okafor can raise a follow-up difference from the other.
                actions=(
                    (
                        "Send the missing attendance figures since half term to Sam Okafor.",
                        "receiving",
                        1,
                    ),
                    (
                        "Email MH's attendance figures to Sam Okafor every Friday by 3pm, with "
                        "Peter Walsh, deputy headteacher, sending them when Kate Murphy is away.",
                        "receiving",
                        3,
                    ),
                ),
            ),
            step(
                21,
                SAM,
                Action.ACCEPT,
                comment="Thank you. The figures since half term have arrived and will go to the "
                "next meeting about MH's plan.",
            ),
        ),
    ),
    # Resolved at stage 1: early help's decision stood and the police accepted it.
    Scenario(
        raiser=AISHA,
        receiving=EARLY_HELP,
        named=MIA,
        child_reference="NP-60388",
        child_initials="CD",
        child_age_months=75,
        category=Category.CLOSURE,
        decision="Early help closed the family's case after three weeks because the parents "
        "said they did not want support.",
        reasons="Officers have been called to the home four times this year because of arguments "
        "between CD's parents, and CD was there each time. We referred the family so that "
        "someone would work with them before things got worse. Closing the case leaves nobody "
        "supporting CD.",
        desired_outcome="Early help to keep trying to work with the family, or pass the case to "
        "a service that can.",
        raised_days_ago=18,
        steps=(
            step(
                15,
                MIA,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="Early help only works with families who agree to it. I visited twice "
                "and wrote to the parents, and both times they said no. I told the officer who "
                "referred and suggested a referral to children's social care if the risk is "
                "higher than early help can manage.",
                child_impact="CD has no early help support now. If the police think CD is at "
                "risk of significant harm, children's social care is the right service.",
            ),
            step(
                14,
                AISHA,
                Action.ACCEPT,
                comment="Understood: early help cannot work with a family that says no. We have "
                "now referred CD to children's social care with the four incident reports.",
            ),
        ),
    ),
    # Resolved by the partnership at the final stage. At stage 1 nobody responded in time, so the
    # social worker escalated once the deadline had passed.
    Scenario(
        raiser=SAM,
        receiving=POLICE,
        named=None,
        child_reference="CSC-20622",
        child_initials="HN",
        child_age_months=160,
        category=Category.SECTION_47,
        decision="The police decided to take no further action on HN's allegation against her "
        "stepfather without a video-recorded interview with her.",
        reasons="HN, who is 13, told her teacher that her stepfather had touched her. Her account "
        "has never been properly recorded, the child protection enquiry depends on it, and "
        "without it her stepfather may move back into the home.",
        desired_outcome="A joint planning meeting and a video-recorded interview with HN, with "
        "whatever help she needs to take part.",
        raised_days_ago=32,
        informal_discussion="Raised at the strategy discussion. The detective constable said a "
        "supervisor had made the decision.",
        steps=(
            step(
                26,
                SAM,
                Action.ESCALATE,
                rationale="The police have not responded by the stage's deadline, and HN's "
                "stepfather is asking to come home. I am escalating so that managers look at it.",
            ),
            step(
                23,
                AISHA,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="HN told officers she did not want to be interviewed and her mother "
                "supported her. We cannot interview a child who does not agree, and there is no "
                "other evidence to go on.",
                child_impact="The criminal investigation has ended. HN is at home and her "
                "stepfather is living elsewhere.",
            ),
            step(
                22,
                JO,
                Action.ESCALATE,
                rationale="HN said no after her mother told her the family would split up. "
                "Nobody asked HN on her own, with an adult she trusts, what would help her to "
                "speak.",
            ),
            step(
                19,
                MARK,
                Action.RESPOND,
                outcome=Outcome.UPHELD,
                rationale="I have reviewed the file. The decision was made properly on what we "
                "knew, and we will reopen the investigation if HN tells us more.",
                child_impact="The criminal case stays closed unless HN says more. Children's "
                "social care keeps working to keep her safe.",
            ),
            step(
                18,
                PRIYA,
                Action.ESCALATE,
                rationale="Both agencies agree HN needs protecting, but we disagree about whether "
                "she had a fair chance to be heard. We ask the partnership to decide.",
            ),
            step(
                10,
                CHAIR,
                Action.DECIDE,
                outcome=Outcome.AGREED,
                decision="The police and children's social care will meet within five working "
                "days to plan how HN can be asked, on her own and with an adult she trusts, "
                "whether she wants to give a video-recorded interview.",
                rationale="The partnership's guidance says a child's wishes about an interview "
                "should be explored with the child alone, by someone they trust. That did not "
                "happen: HN was only asked with her mother there.",
                child_impact="HN will have a fair chance to be heard in her own words, and her "
                "views will shape what happens next.",
            ),
        ),
    ),
    # Withdrawn after a conversation cleared up a misunderstanding.
    Scenario(
        raiser=RUTH_BELL,
        receiving=GP,
        named=EMMA,
        child_reference="NHS-56110",
        child_initials="FO",
        child_age_months=8,
        category=Category.INFORMATION_SHARING,
        decision="The GP practice did not send a report to FO's first child protection conference.",
        reasons="FO's conference went ahead with nothing from the GP about her missed "
        "vaccinations or mum's recent appointments. The GP is the only professional who has "
        "seen mum since the birth, so the plan was made without an important part of the "
        "picture.",
        desired_outcome="The GP's report sent to the social worker and the conference chair "
        "before the first review.",
        raised_days_ago=6,
        steps=(
            step(
                3,
                EMMA,
                Action.RECORD_CONVERSATION,
                participants="Ruth Bell (health visitor) and Dr Emma Clarke (GP)",
                agreed="The practice did write the report on time but sent it to an old email "
                "address for the conference team. Dr Clarke has sent it again to the right "
                "address and copied in the social worker.",
            ),
            step(
                3,
                RUTH_BELL,
                Action.WITHDRAW,
                rationale="The report was written and sent on time, just to the wrong address. "
                "It has now reached the conference team, so there is nothing left to disagree "
                "about.",
            ),
        ),
    ),
    # Stage 1, waiting for a response: the hospital has not yet answered.
    Scenario(
        raiser=DAVID,
        receiving=TRUST,
        named=GRACE,
        child_reference="RMP-71840",
        child_initials="SB",
        child_age_months=10,
        category=Category.INFORMATION_SHARING,
        decision="The hospital did not tell the practice that SB was seen in the emergency "
        "department with a head injury.",
        reasons="We only found out when mum mentioned it at a routine appointment three weeks "
        "later. A head injury in a baby who is not yet walking needs following up, and the "
        "practice knows the family's history, including a bruise that was never explained.",
        desired_outcome="The trust to find out why the visit was not shared, and send us the "
        "discharge letter and any safeguarding notes.",
        raised_days_ago=4,
        informal_discussion="I left a phone message for Grace Lee, the named nurse, the day "
        "before raising this.",
    ),
    # Stage 1, waiting for a response, reassigned because the named worker is on leave.
    Scenario(
        raiser=PETER,
        receiving=EARLY_HELP,
        named=MIA,
        child_reference="NA-4502",
        child_initials="ZA",
        child_age_months=122,
        category=Category.DRIFT,
        decision="ZA's family's early help plan has not been reviewed since July, and two "
        "planned family meetings were cancelled.",
        reasons="ZA's behaviour in class has got worse, and he has told staff there is shouting "
        "at home most nights. The plan's actions, such as a parenting course for dad, have not "
        "started. Without reviews nobody is checking whether the plan is working for ZA.",
        desired_outcome="A review meeting within two weeks, with a date for the parenting course.",
        raised_days_ago=3,
        informal_discussion="I mentioned it to Mia Jones at a school meeting last month. She said "
        "she would rearrange the family meeting.",
        steps=(
            step(
                1,
                BEN,
                Action.REASSIGN,
                new_responder=BEN,
                rationale="Mia Jones is on leave for the next four weeks. I have taken over the "
                "family's plan myself and will respond to this.",
            ),
        ),
    ),
    # Urgent, resolved at stage 1 on the day it was raised: a newborn's discharge was stopped.
    Scenario(
        raiser=LEAH,
        receiving=TRUST,
        named=HELEN,
        child_reference="CSC-20705",
        child_initials="GW",
        child_age_months=0,
        category=Category.CONFERENCE_OR_PLAN,
        decision="The maternity ward planned to send baby GW home tomorrow, before the discharge "
        "planning meeting that her pre-birth plan says must happen first.",
        reasons="The pre-birth plan says GW stays on the ward until a meeting agrees where she "
        "can live safely. Mum's partner, who must not have contact with children, has been seen "
        "visiting the ward. Going home before the meeting would leave GW without the protection "
        "the plan put in place.",
        desired_outcome="GW to stay on the ward until the discharge planning meeting, which "
        "children's social care can hold within two working days.",
        raised_days_ago=3,
        protective_action="I have asked the ward to keep mum's partner off the ward and told "
        "the police, who are checking where he is.",
        steps=(
            step(
                3,
                HELEN,
                Action.RESPOND,
                outcome=Outcome.AGREED,
                rationale="The ward did not have the pre-birth plan on GW's record, which was a "
                "mistake on our part. The discharge has been stopped.",
                child_impact="GW stays safely on the ward until the meeting decides where she "
                "will live.",
                actions=(
                    ("Put the pre-birth plan on GW's hospital record.", "receiving", 0),
                    ("Helen Ward attends the discharge planning meeting.", "receiving", 5),
                ),
            ),
            step(2, LEAH, Action.ACCEPT, comment="Thank you for acting so quickly."),
        ),
    ),
]
