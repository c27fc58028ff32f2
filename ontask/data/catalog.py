"""What synthetic screens are made of: app kinds, the apps of each kind, content topics, and
the task library (8 roles). Pure data; the renderer draws it and the labelling rule reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

# --- app kinds -------------------------------------------------------------------------------

WORK_KINDS = ("editor", "terminal", "spreadsheet", "document", "issues", "design", "crm")
COMMS_KINDS = ("email", "chat")
WEB_KINDS = ("docs", "video", "social", "shop")
ENTERTAINMENT_KINDS = ("video", "social", "game", "music")
ALL_KINDS = (
    "editor",
    "terminal",
    "docs",
    "spreadsheet",
    "document",
    "email",
    "chat",
    "issues",
    "video",
    "social",
    "shop",
    "game",
    "design",
    "crm",
    "music",
)


@dataclass(frozen=True)
class App:
    """One application: what its title bar says and, for web apps, its site."""

    kind: str
    name: str
    site: str = ""  # host for browser-based apps ("" for desktop apps)
    browser: bool = False


APPS: dict[str, tuple[App, ...]] = {
    "editor": (App("editor", "Visual Studio Code"), App("editor", "PyCharm"), App("editor", "Sublime Text")),
    "terminal": (App("terminal", "Terminal"), App("terminal", "Konsole"), App("terminal", "iTerm2")),
    "docs": (
        App("docs", "Firefox", "docs.python.org", True),
        App("docs", "Chrome", "developer.mozilla.org", True),
        App("docs", "Firefox", "en.wikipedia.org", True),
        App("docs", "Chrome", "kubernetes.io", True),
    ),
    "spreadsheet": (
        App("spreadsheet", "LibreOffice Calc"),
        App("spreadsheet", "Chrome", "sheets.google.com", True),
        App("spreadsheet", "Microsoft Excel"),
    ),
    "document": (
        App("document", "LibreOffice Writer"),
        App("document", "Chrome", "docs.google.com", True),
        App("document", "Microsoft Word"),
    ),
    "email": (App("email", "Thunderbird"), App("email", "Chrome", "mail.google.com", True), App("email", "Outlook")),
    "chat": (App("chat", "Slack"), App("chat", "Microsoft Teams"), App("chat", "Chrome", "app.element.io", True)),
    "issues": (
        App("issues", "Chrome", "github.com", True),
        App("issues", "Firefox", "jira.example.com", True),
        App("issues", "Chrome", "support.zendesk.com", True),
    ),
    "video": (
        App("video", "Chrome", "www.youtube.com", True),
        App("video", "Firefox", "vimeo.com", True),
        App("video", "Chrome", "www.netflix.com", True),
    ),
    "social": (
        App("social", "Chrome", "x.com", True),
        App("social", "Firefox", "www.reddit.com", True),
        App("social", "Chrome", "www.instagram.com", True),
        App("social", "Chrome", "www.linkedin.com", True),
    ),
    "shop": (
        App("shop", "Chrome", "www.amazon.com", True),
        App("shop", "Firefox", "www.ebay.com", True),
        App("shop", "Chrome", "www.staples.com", True),
    ),
    "game": (App("game", "Steam - Hollow Knight"), App("game", "Solitaire"), App("game", "Minecraft")),
    "design": (App("design", "Figma"), App("design", "Inkscape"), App("design", "GIMP")),
    "crm": (App("crm", "Chrome", "acme.lightning.force.com", True), App("crm", "Firefox", "app.hubspot.com", True)),
    # Only in the team-policy edge family (see scene.EDGE_FAMILIES): never in the base data.
    "music": (App("music", "Spotify"), App("music", "Chrome", "open.spotify.com", True), App("music", "Rhythmbox")),
}


# --- topics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """What a window is about. Words feed titles, URLs and body text; `work` marks job topics."""

    name: str
    work: bool
    titles: tuple[str, ...]
    lines: tuple[str, ...]
    slug: str = ""


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        # software
        Topic(
            "payments",
            True,
            ("payment_service.py", "test_refund_flow.py", "Payment webhook retries"),
            (
                "def charge(card, amount):",
                "assert refund.status == 'settled'",
                "FAILED tests/test_payments.py::test_retry",
                "payment gateway timeout after 30s",
            ),
            "payments",
        ),
        Topic(
            "testing",
            True,
            ("pytest fixtures", "unittest.mock - Mock object library", "Testing best practices"),
            (
                "Fixtures are requested by test functions",
                "Use monkeypatch to patch attributes",
                "pytest -k payments -x",
            ),
            "pytest",
        ),
        Topic(
            "auth",
            True,
            ("auth_middleware.go", "OAuth token refresh", "Login fails after SSO change"),
            ("func VerifyToken(tok string) error {", "401 Unauthorized: token expired", "refresh_token rotation"),
            "auth",
        ),
        Topic(
            "kubernetes",
            True,
            ("Kubernetes Networking", "Service topology", "kubectl reference"),
            ("A Service is an abstraction over Pods", "kubectl get pods -A", "NetworkPolicy selects pods"),
            "kubernetes",
        ),
        # support
        Topic(
            "refunds",
            True,
            ("Refund request #48213", "Re: refund not received", "Refund policy"),
            (
                "Customer asks why the refund is still pending",
                "Refunds settle in 5-7 business days",
                "Issued refund of $42.00",
            ),
            "refunds",
        ),
        Topic(
            "shipping",
            True,
            ("Order delayed #99120", "Where is my parcel?", "Carrier delay macro"),
            ("Tracking shows the parcel stuck in transit", "Apologise and offer a shipping credit"),
            "shipping",
        ),
        # analysis
        Topic(
            "revenue",
            True,
            ("Q3 revenue report.xlsx", "Revenue by region", "Quarterly revenue"),
            ("Region  Q1  Q2  Q3", "EMEA 1.2M 1.4M 1.6M", "=SUM(B2:B9)", "Pivot table of bookings"),
            "revenue",
        ),
        Topic(
            "churn",
            True,
            ("churn_cohorts.csv", "Churn analysis", "Retention by cohort"),
            ("Cohort  M1  M2  M3", "monthly churn 3.1%", "logo retention 92%"),
            "churn",
        ),
        Topic(
            "spreadsheets",
            True,
            ("Pivot tables", "Excel pivot tables tutorial", "SUMIFS function"),
            ("Create a PivotTable to analyze worksheet data", "SUMIFS(sum_range, criteria_range1, criteria1)"),
            "pivot-tables",
        ),
        # writing
        Topic(
            "onboarding",
            True,
            ("Onboarding blog post draft", "Welcome to Acme: your first week"),
            ("Your first week at Acme starts with a buddy", "Draft - onboarding checklist", "Intro paragraph"),
            "onboarding",
        ),
        Topic(
            "release-notes",
            True,
            ("Release notes 4.2", "What's new in 4.2"),
            ("New: dark mode for the dashboard", "Fixed: export to CSV"),
            "release-notes",
        ),
        Topic(
            "writing-style",
            True,
            ("Style guide", "Writing clear headlines", "AP style for tech writers"),
            ("Use active voice", "Keep headlines under 70 characters"),
            "style-guide",
        ),
        # design
        Topic(
            "landing-page",
            True,
            ("Landing page v3", "Hero section mockup", "Landing page review"),
            ("Hero: Ship faster with Acme", "CTA button 48px", "Grid 12 columns"),
            "landing-page",
        ),
        Topic(
            "icons",
            True,
            ("Mobile app icons", "Icon set 24px", "App icon export"),
            ("Export @2x and @3x", "Stroke 2px rounded"),
            "icons",
        ),
        # study
        Topic(
            "linear-algebra",
            True,
            ("Linear algebra - Chapter 4", "Eigenvalues and eigenvectors", "Matrix diagonalization"),
            ("Av = lambda v", "det(A - lambda I) = 0", "Exercise 4.12"),
            "linear-algebra",
        ),
        Topic(
            "biology",
            True,
            ("Cell biology notes", "Mitosis and meiosis", "The cell membrane"),
            ("Prophase, metaphase, anaphase, telophase", "Phospholipid bilayer"),
            "cell-biology",
        ),
        # sales
        Topic(
            "leads",
            True,
            ("Trade show leads", "Follow-up: Acme booth visit", "Lead list - Expo 2026"),
            ("Lead: Dana Smith, Globex - interested in demo", "Stage: Contacted", "Next step: book a call"),
            "leads",
        ),
        Topic(
            "renewals",
            True,
            ("Renewal - Initech", "Renewal pipeline Q4", "Contract renewal"),
            ("Renewal date: Dec 1", "Discount approval requested", "ARR 120k"),
            "renewals",
        ),
        # recruiting
        Topic(
            "backend-hiring",
            True,
            ("Backend Engineer - candidates", "Interview: senior backend engineer", "Re: backend engineer role"),
            ("Candidate: Alex Kim - 6 yrs Go, Kubernetes", "Stage: phone screen", "Schedule onsite"),
            "backend-engineer",
        ),
        Topic(
            "design-hiring",
            True,
            ("Product Designer - candidates", "Portfolio review"),
            ("Candidate: Sam Lee - portfolio strong", "Stage: portfolio review"),
            "product-designer",
        ),
        # procurement
        Topic(
            "office-supplies",
            True,
            ("Office supplies order", "Printer paper, A4, 5 reams", "Desk organizers"),
            ("Printer paper A4 80gsm - $24.99", "Ballpoint pens, 50 pack", "Add to cart"),
            "office-supplies",
        ),
        # not work
        Topic(
            "lunch",
            False,
            ("Lunch plans?", "Tacos at noon?", "Friday lunch"),
            ("anyone up for tacos at 12?", "the new ramen place is great", "I'll bring dessert"),
            "lunch",
        ),
        Topic(
            "football",
            False,
            ("Champions League highlights", "Transfer news", "Match thread"),
            ("GOAL! 2-1 in the 89th minute", "Top 10 goals of the season"),
            "football",
        ),
        Topic(
            "cooking",
            False,
            ("Easy pasta recipes", "Sourdough for beginners"),
            ("Knead the dough for 10 minutes", "Add garlic and olive oil"),
            "cooking",
        ),
        Topic(
            "travel",
            False,
            ("Cheap flights to Lisbon", "Hotels in Kyoto"),
            ("Round trip from $189", "Best time to visit Kyoto"),
            "travel",
        ),
        Topic(
            "gadgets",
            False,
            ("Wireless earbuds", "Gaming laptop deals", "4K monitor sale"),
            ("Noise cancelling earbuds - $129", "Limited time deal", "Add to cart"),
            "gadgets",
        ),
        Topic(
            "celebrity",
            False,
            ("Celebrity news", "Red carpet looks", "Viral memes"),
            ("You won't believe what happened next", "Trending now"),
            "trending",
        ),
        Topic(
            "cats",
            False,
            ("Funny cat compilation", "Cats vs cucumbers"),
            ("Cat jumps into box", "10 minutes of kittens"),
            "cats",
        ),
        Topic(
            "gaming",
            False,
            ("Hollow Knight", "Level 12", "Boss fight"),
            ("HP 5/9", "Geo 1240", "Press A to continue"),
            "gaming",
        ),
        Topic(
            "focus-music",
            False,
            ("Deep Focus", "Lo-fi beats to work to", "Brain Food playlist"),
            (
                "Weightless - Marconi Union  3:40",
                "Intro - The xx  2:07",
                "Clair de Lune - Debussy  5:12",
                "Instrumental study mix",
            ),
            "deep-focus",
        ),
    )
}


# --- tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One task a person may be asked to do. `tools` are the app kinds the job is done in and
    `topics` what it is about; the labelling rule reads both."""

    id: str
    role: str
    text: str
    tools: frozenset[str]
    topics: frozenset[str]
    allows_shopping: bool = False
    paraphrases: tuple[str, ...] = field(default=())


def _t(
    id_: str,
    role: str,
    text: str,
    tools: str,
    topics: str,
    paraphrases: tuple[str, ...] = (),
    allows_shopping: bool = False,
) -> Task:
    return Task(id_, role, text, frozenset(tools.split()), frozenset(topics.split()), allows_shopping, paraphrases)


TASKS: tuple[Task, ...] = (
    _t(
        "dev-payments-test",
        "developer",
        "Fix the failing unit test in the payment service",
        "editor terminal docs issues chat email",
        "payments testing",
        ("Make the payments test suite pass again", "Debug why test_refund_flow fails"),
    ),
    _t(
        "dev-auth-bug",
        "developer",
        "Fix the login bug in the auth middleware after the SSO change",
        "editor terminal docs issues chat email",
        "auth",
        ("Resolve the SSO login failure in auth middleware",),
    ),
    _t(
        "support-refunds",
        "support agent",
        "Answer customer tickets about refunds",
        "issues email chat docs",
        "refunds",
        ("Work through the refund ticket queue", "Reply to customers asking about refunds"),
    ),
    _t(
        "support-shipping",
        "support agent",
        "Handle tickets about delayed shipments",
        "issues email chat docs",
        "shipping",
        ("Respond to customers whose orders are late",),
    ),
    _t(
        "analyst-revenue",
        "analyst",
        "Build the quarterly revenue report in the spreadsheet",
        "spreadsheet docs email chat document",
        "revenue spreadsheets",
        ("Prepare the Q3 revenue numbers by region",),
    ),
    _t(
        "analyst-churn",
        "analyst",
        "Analyse customer churn by cohort",
        "spreadsheet terminal editor docs chat",
        "churn spreadsheets",
        ("Compute retention per signup cohort",),
    ),
    _t(
        "writer-onboarding",
        "writer",
        "Write the blog post draft about employee onboarding",
        "document docs chat email",
        "onboarding writing-style",
        ("Draft the onboarding article for the blog",),
    ),
    _t(
        "writer-release-notes",
        "writer",
        "Write the release notes for version 4.2",
        "document issues chat email",
        "release-notes writing-style",
        ("Prepare what's-new notes for release 4.2",),
    ),
    _t(
        "designer-landing",
        "designer",
        "Design the landing page mockup in the design tool",
        "design docs chat email",
        "landing-page",
        ("Mock up the new landing page hero",),
    ),
    _t(
        "designer-icons",
        "designer",
        "Export the mobile app icon set",
        "design chat email",
        "icons",
        ("Prepare the app icons for the mobile release",),
    ),
    _t(
        "student-linalg",
        "student",
        "Study chapter 4 of linear algebra for the exam",
        "document docs video",
        "linear-algebra",
        ("Revise eigenvalues for tomorrow's exam",),
    ),
    _t(
        "student-biology",
        "student",
        "Write the cell biology lab notes",
        "document docs",
        "biology",
        ("Finish the notes on mitosis for the biology lab",),
    ),
    _t(
        "sales-leads",
        "sales",
        "Follow up with leads from the trade show in the CRM",
        "crm email chat spreadsheet",
        "leads",
        ("Contact the trade show leads and log them in the CRM",),
    ),
    _t(
        "sales-renewals",
        "sales",
        "Prepare the Q4 renewal pipeline",
        "crm spreadsheet email chat",
        "renewals",
        ("Review renewals closing this quarter",),
    ),
    _t(
        "recruiter-backend",
        "recruiter",
        "Screen candidates for the backend engineer role",
        "email chat document crm",
        "backend-hiring",
        ("Review backend engineer applicants",),
    ),
    _t(
        "recruiter-design",
        "recruiter",
        "Review portfolios for the product designer role",
        "email chat document",
        "design-hiring",
        ("Go through product designer portfolios",),
    ),
    _t(
        "support-office-supplies",
        "support agent",
        "Buy office supplies for the support team",
        "shop email chat",
        "office-supplies",
        ("Order printer paper and pens for the team",),
        allows_shopping=True,
    ),
)

ROLES = tuple(sorted({t.role for t in TASKS}))
TASKS_BY_ID = {t.id: t for t in TASKS}

# Docs and videos that teach a topic: a work tutorial may be on-task.
TUTORIAL_TOPICS = ("testing", "spreadsheets", "kubernetes", "linear-algebra", "writing-style", "biology")


def catalog_corpus() -> list[str]:
    """Every word the synthetic screens and tasks use (task texts and paraphrases, topic titles
    and lines, app names and sites): a tiny model's BPE trained on it spends its few tokens on
    the words that decide the label."""
    out: list[str] = []
    for t in TASKS:
        out += [t.text, *t.paraphrases]
    for topic in TOPICS.values():
        out += [*topic.titles, *topic.lines, topic.slug]
    for apps in APPS.values():
        out += [f"{a.name} {a.site}" for a in apps]
    return [s for s in out if s]
