"""What the real-screens set is made of: its tasks, the material each task is worked on in (the
content of a real application's window), and what people drift to. Pure data tables; `plan`
arranges them into screenshots.

Every task owns its material, and the split is by task: a validation task's material and its
screenshots never appear in training rows."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of window, each opened by one real application (see apps.AppDriver.argv).
PAGE, DOC, SHEET, CODE, NOTE, PDF, VIDEO, GAME, CHAT = (
    "page",
    "doc",
    "sheet",
    "code",
    "note",
    "pdf",
    "video",
    "game",
    "chat",
)


@dataclass(frozen=True)
class Material:
    """One window's content: what it shows and what it is about."""

    kind: str
    name: str  # file name (doc, sheet, code, note, pdf), page path, video title, game
    title: str  # the heading or page title a person reads
    body: tuple[str, ...] = ()  # lines of content
    host: str = ""  # pages and chat: the site's host name


@dataclass(frozen=True)
class RealTask:
    """A task of the real-screens set and the material it is worked on in. Not the synthetic
    library's `ontask.data.catalog.Task`: that one is described by app kinds and topics for a
    labelling rule, this one owns concrete windows and a split."""

    id: str
    text: str
    role: str
    materials: tuple[Material, ...]
    split: str = "train"


def _page(host: str, path: str, title: str, *body: str) -> Material:
    return Material(PAGE, path, title, body, host)


def _chat(channel: str, *body: str) -> Material:
    return Material(CHAT, f"/channels/{channel}", f"#{channel}", body, "chat.acme.io")


T = RealTask
M = Material
# 28 tasks across ten roles. Validation tasks (split="val") are never trained on.
REAL_TASKS: tuple[RealTask, ...] = (
    T(
        "csv-parser",
        "Fix the CSV parser bug in the import service",
        "engineer",
        (
            M(
                CODE,
                "csv_import.py",
                "csv_import.py",
                (
                    "import csv",
                    "def parse_rows(path):",
                    "    with open(path) as f:",
                    "        return list(csv.reader(f, delimiter=';'))",
                ),
            ),
            _page(
                "docs.python.org",
                "/3/library/csv.html",
                "csv - CSV File Reading and Writing",
                "The csv module implements classes to read and write tabular data in CSV format.",
            ),
            _chat("import-service", "dana: the CSV import fails on semicolons", "lee: I'm fixing the parser now"),
        ),
    ),
    T(
        "payment-webhook",
        "Debug the payment webhook retries",
        "engineer",
        (
            M(
                CODE,
                "webhook_handler.py",
                "webhook_handler.py",
                ("def handle_payment_event(event):", "    if event.retries > 5:", "        raise Retry()"),
            ),
            _page(
                "stripe.com",
                "/docs/webhooks",
                "Webhooks | Stripe Documentation",
                "Stripe retries webhook deliveries for up to three days with exponential backoff.",
            ),
        ),
    ),
    T(
        "auth-tests",
        "Write unit tests for the login service",
        "engineer",
        (
            M(
                CODE,
                "test_login.py",
                "test_login.py",
                (
                    "import pytest",
                    "def test_login_rejects_bad_password(client):",
                    "    assert client.login('a', 'b').status == 401",
                ),
            ),
            _page(
                "docs.pytest.org",
                "/en/stable/fixture.html",
                "How to use fixtures - pytest documentation",
                "Fixtures provide a fixed baseline for tests.",
            ),
        ),
    ),
    T(
        "k8s-deploy",
        "Roll out the new Kubernetes deployment for the API gateway",
        "engineer",
        (
            M(
                CODE,
                "gateway-deployment.yaml",
                "gateway-deployment.yaml",
                ("apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: api-gateway"),
            ),
            _page(
                "kubernetes.io",
                "/docs/concepts/workloads/controllers/deployment/",
                "Deployments | Kubernetes",
                "A Deployment provides declarative updates for Pods and ReplicaSets.",
            ),
            M(VIDEO, "kubernetes-deployments-tutorial", "Kubernetes deployments tutorial for beginners"),
        ),
        "val",
    ),
    T(
        "sales-q3",
        "Update the Q3 sales spreadsheet with the regional numbers",
        "analyst",
        (
            M(
                SHEET,
                "q3_sales_by_region.csv",
                "Q3 sales by region",
                ("region,july,august,september", "north,120,130,128", "south,90,95,101", "east,77,80,84"),
            ),
            _chat("sales-ops", "ana: Q3 regional sales numbers are final", "raj: I'll put them in the sheet"),
        ),
    ),
    T(
        "churn-analysis",
        "Analyse customer churn by cohort",
        "analyst",
        (
            M(
                SHEET,
                "churn_cohorts_2026.csv",
                "Churn by cohort",
                ("cohort,customers,churned,churn_rate", "2026-01,410,37,0.09", "2026-02,388,29,0.07"),
            ),
            _page(
                "en.wikipedia.org",
                "/wiki/Churn_rate",
                "Churn rate - Wikipedia",
                "Churn rate is the fraction of customers who stop using a product.",
            ),
        ),
    ),
    T(
        "budget-2027",
        "Prepare the 2027 marketing budget",
        "analyst",
        (
            M(
                SHEET,
                "marketing_budget_2027.csv",
                "Marketing budget 2027",
                ("item,q1,q2,q3,q4", "ads,40000,42000,39000,45000", "events,12000,0,18000,9000"),
            ),
            M(
                DOC,
                "budget_2027_notes.txt",
                "Notes on the 2027 marketing budget",
                ("Budget assumptions for 2027", "Paid ads grow 10 percent."),
            ),
        ),
    ),
    T(
        "inventory-forecast",
        "Forecast warehouse inventory for December",
        "analyst",
        (
            M(
                SHEET,
                "inventory_forecast_december.csv",
                "Inventory forecast December",
                ("sku,stock,forecast,reorder", "A-100,420,390,no", "B-220,80,160,yes"),
            ),
            _page(
                "en.wikipedia.org",
                "/wiki/Inventory_forecasting",
                "Inventory forecasting - Wikipedia",
                "Inventory forecasting predicts inventory levels for a future period.",
            ),
        ),
        "val",
    ),
    T(
        "refund-tickets",
        "Answer customer refund tickets",
        "support",
        (
            _page(
                "acme.zendesk.com",
                "/agent/tickets/4821",
                "Ticket #4821: Refund for damaged order - Zendesk",
                "Customer asks for a refund of order 99812, the parcel arrived damaged.",
            ),
            _page(
                "help.acme.io",
                "/policies/refunds",
                "Refund policy - Acme Help Center",
                "Refunds are issued within 30 days of delivery.",
            ),
            _chat("support-refunds", "mo: who takes the refund ticket 4821?", "kim: on it, refund approved"),
        ),
    ),
    T(
        "shipping-delays",
        "Reply to customers about delayed shipments",
        "support",
        (
            _page(
                "acme.zendesk.com",
                "/agent/tickets/5102",
                "Ticket #5102: Where is my parcel? - Zendesk",
                "My shipment is delayed by a week, the carrier tracking shows nothing.",
            ),
            M(
                NOTE,
                "shipping_delay_replies.txt",
                "Shipping delay reply templates",
                ("Dear customer, your shipment is delayed because the carrier", "We will refund the shipping cost."),
            ),
        ),
    ),
    T(
        "password-reset",
        "Help users with password reset problems",
        "support",
        (
            _page(
                "acme.zendesk.com",
                "/agent/tickets/5230",
                "Ticket #5230: Password reset email never arrives - Zendesk",
                "I asked for a password reset three times and got no email.",
            ),
            _page(
                "help.acme.io",
                "/articles/reset-password",
                "How to reset your password - Acme Help Center",
                "Open the login page and choose Forgot password.",
            ),
        ),
        "val",
    ),
    T(
        "onboarding-guide",
        "Write the onboarding guide for new hires",
        "writer",
        (
            M(
                DOC,
                "onboarding_guide.txt",
                "Onboarding guide for new hires",
                ("Welcome to Acme!", "Your first week: laptop, accounts, buddy."),
            ),
            M(
                NOTE,
                "onboarding_checklist.txt",
                "Onboarding checklist",
                ("1. Laptop", "2. Accounts", "3. Meet your buddy"),
            ),
        ),
    ),
    T(
        "release-notes",
        "Draft the release notes for version 4.2",
        "writer",
        (
            M(DOC, "release_notes_4.2.txt", "Release notes 4.2", ("What's new in 4.2", "Faster search, dark mode.")),
            _page(
                "github.com",
                "/acme/app/releases",
                "Releases - acme/app - GitHub",
                "v4.2.0-rc1: faster search, dark mode, 31 fixes",
            ),
        ),
    ),
    T(
        "grant-proposal",
        "Write the research grant proposal on coral reefs",
        "writer",
        (
            M(
                DOC,
                "coral_reef_grant_proposal.txt",
                "Grant proposal: coral reef restoration",
                ("Coral reef restoration in the Red Sea", "Aims, methods and budget."),
            ),
            M(
                PDF,
                "coral_bleaching_study.pdf",
                "Coral bleaching study",
                ("Coral bleaching events 1998-2024", "Reef temperature and coral cover."),
            ),
        ),
        "val",
    ),
    T(
        "linear-algebra",
        "Study linear algebra: eigenvalues and eigenvectors",
        "student",
        (
            M(
                PDF,
                "eigenvalues_lecture_notes.pdf",
                "Lecture 7: Eigenvalues and eigenvectors",
                ("An eigenvector of a matrix A is a vector v with Av = lv.", "Diagonalization of symmetric matrices."),
            ),
            M(VIDEO, "eigenvectors-explained", "Eigenvalues and eigenvectors explained - linear algebra lecture"),
            _page(
                "en.wikipedia.org",
                "/wiki/Eigenvalues_and_eigenvectors",
                "Eigenvalues and eigenvectors - Wikipedia",
                "In linear algebra, an eigenvector is a nonzero vector that changes by a scalar factor.",
            ),
        ),
    ),
    T(
        "cell-biology",
        "Revise cell biology: mitosis and meiosis for the exam",
        "student",
        (
            M(
                PDF,
                "mitosis_meiosis_summary.pdf",
                "Mitosis and meiosis summary",
                ("Prophase, metaphase, anaphase, telophase", "Meiosis halves the chromosomes."),
            ),
            M(VIDEO, "mitosis-animation", "Mitosis vs meiosis animation - biology tutorial"),
            _page("en.wikipedia.org", "/wiki/Mitosis", "Mitosis - Wikipedia", "Mitosis is a part of the cell cycle."),
        ),
    ),
    T(
        "french-verbs",
        "Practise French irregular verbs",
        "student",
        (
            M(
                NOTE,
                "french_irregular_verbs.txt",
                "French irregular verbs",
                ("etre: je suis, tu es, il est", "avoir: j'ai, tu as, il a"),
            ),
            _page(
                "www.lawlessfrench.com",
                "/grammar/irregular-verbs/",
                "French irregular verbs - Lawless French",
                "The most common French irregular verbs are etre, avoir, aller and faire.",
            ),
        ),
        "val",
    ),
    T(
        "world-history",
        "Write the essay on the causes of World War I",
        "student",
        (
            M(
                DOC,
                "ww1_causes_essay.txt",
                "Essay: the causes of World War I",
                ("Militarism, alliances, imperialism", "and nationalism led to the war."),
            ),
            _page(
                "en.wikipedia.org",
                "/wiki/Causes_of_World_War_I",
                "Causes of World War I - Wikipedia",
                "The causes of World War I remain debated.",
            ),
        ),
    ),
    T(
        "lead-list",
        "Follow up on the trade show leads",
        "sales",
        (
            M(
                SHEET,
                "trade_show_leads.csv",
                "Trade show leads",
                ("company,contact,booth_visit,next_step", "Globex,Ann Lee,yes,call", "Initech,Bo Chen,yes,demo"),
            ),
            M(
                NOTE,
                "lead_follow_up_emails.txt",
                "Lead follow-up emails",
                ("Hi Ann, great to meet you at our booth.", "Shall we book a demo?"),
            ),
        ),
    ),
    T(
        "renewal-pipeline",
        "Review the contract renewal pipeline",
        "sales",
        (
            _page(
                "acme.lightning.force.com",
                "/lightning/o/Opportunity/renewals",
                "Renewals pipeline | Salesforce",
                "12 contract renewals due this quarter, 3 at risk.",
            ),
            M(
                SHEET,
                "renewals_q4.csv",
                "Renewals Q4",
                ("account,contract_end,value,risk", "Globex,2026-12-31,48000,low", "Umbrella,2027-01-15,22000,high"),
            ),
        ),
        "val",
    ),
    T(
        "backend-hiring",
        "Screen candidates for the backend engineer job",
        "recruiter",
        (
            _page(
                "acme.greenhouse.io",
                "/jobs/backend-engineer/candidates",
                "Backend engineer candidates - Greenhouse",
                "14 new applicants for Backend engineer.",
            ),
            M(
                PDF,
                "cv_backend_candidate_jana_novak.pdf",
                "CV: Jana Novak, backend engineer",
                ("Go, PostgreSQL, Kubernetes", "Six years of backend engineering."),
            ),
        ),
    ),
    T(
        "interview-schedule",
        "Schedule interviews for the designer role",
        "recruiter",
        (
            M(
                SHEET,
                "designer_interview_schedule.csv",
                "Designer interview schedule",
                ("candidate,date,interviewer", "Sam Ortiz,2026-12-03,Priya", "Lena Wolf,2026-12-04,Tom"),
            ),
            _chat("hiring-design", "priya: can we move the designer interviews to Thursday?"),
        ),
        "val",
    ),
    T(
        "campaign-copy",
        "Write the newsletter copy for the winter campaign",
        "marketing",
        (
            M(
                DOC,
                "winter_newsletter_copy.txt",
                "Winter newsletter copy",
                ("Stay warm with our winter collection", "Free shipping until December 24."),
            ),
            _page(
                "mailchimp.com",
                "/campaigns/winter-newsletter",
                "Winter newsletter - Campaigns - Mailchimp",
                "Draft: Winter newsletter, audience 12,400 subscribers",
            ),
        ),
    ),
    T(
        "seo-audit",
        "Do the SEO audit of the product pages",
        "marketing",
        (
            M(
                SHEET,
                "seo_audit_product_pages.csv",
                "SEO audit of product pages",
                ("url,title_length,meta_description,h1", "/shoes,58,missing,ok"),
            ),
            _page(
                "developers.google.com",
                "/search/docs/fundamentals/seo-starter-guide",
                "SEO Starter Guide | Google Search Central",
                "Search engine optimization is about helping search engines understand your content.",
            ),
        ),
    ),
    T(
        "recipe-costing",
        "Cost the new winter menu recipes",
        "restaurant",
        (
            M(
                SHEET,
                "winter_menu_recipe_costs.csv",
                "Winter menu recipe costs",
                ("dish,ingredients_cost,price,margin", "pumpkin soup,1.80,7.50,0.76"),
            ),
            M(VIDEO, "knife-skills", "Knife skills tutorial for chefs"),
        ),
    ),
    T(
        "shift-roster",
        "Plan the kitchen staff shift roster",
        "restaurant",
        (
            M(
                SHEET,
                "kitchen_shift_roster.csv",
                "Kitchen shift roster",
                ("name,mon,tue,wed", "Luis,early,late,off", "Mia,late,off,early"),
            ),
            _chat("kitchen-staff", "luis: can I swap my Tuesday shift?", "mia: ok, roster updated"),
        ),
        "val",
    ),
    T(
        "tax-return",
        "Prepare the quarterly VAT return",
        "accountant",
        (
            M(SHEET, "vat_return_q4.csv", "VAT return Q4", ("invoice,net,vat,gross", "INV-881,1000,200,1200")),
            M(
                PDF,
                "vat_guide_2026.pdf",
                "VAT guide 2026",
                ("How to file your quarterly VAT return", "Input VAT and output VAT."),
            ),
        ),
    ),
    T(
        "invoice-matching",
        "Match supplier invoices to purchase orders",
        "accountant",
        (
            M(
                SHEET,
                "invoice_po_matching.csv",
                "Invoice to PO matching",
                ("invoice,purchase_order,amount,matched", "INV-1201,PO-7781,4300,yes"),
            ),
            _page(
                "acme.netsuite.com",
                "/app/accounting/invoices",
                "Supplier invoices - NetSuite",
                "42 supplier invoices waiting for purchase order matching.",
            ),
        ),
    ),
)

# What people drift to, each with its hard-case family and the task (below) for which the same
# window is the work: a chess lesson needs the chess game, a sports roundup the highlights.
DISTRACTIONS: tuple[tuple[str, Material, str], ...] = (
    ("game", M(GAME, "xboard", "XBoard chess"), "chess-lesson"),
    ("game", M(GAME, "xmahjongg", "Mahjongg solitaire"), "game-qa"),
    ("video-entertainment", M(VIDEO, "funny-cats", "Funniest cat compilation 2026"), "pet-campaign"),
    (
        "video-entertainment",
        M(VIDEO, "football-highlights", "Football highlights - all goals of the weekend"),
        "sports-roundup",
    ),
    ("social", _page("x.com", "/home", "Home / X", "What is happening?! Trending: #WorldCup"), "social-replies"),
    (
        "social",
        _page("www.reddit.com", "/r/aww/", "Cute animals : r/aww - Reddit", "Look at this puppy"),
        "pet-campaign",
    ),
    (
        "shopping",
        _page("www.amazon.com", "/gp/cart/view.html", "Amazon.com Shopping Cart", "Noise cancelling headphones"),
        "headset-order",
    ),
    (
        "news",
        _page("www.bbc.com", "/sport/football", "Football - BBC Sport", "Transfer rumours and live scores"),
        "sports-roundup",
    ),
    ("chat-lunch", _chat("random", "sam: lunch at the noodle place?", "jo: yes, 12:30!"), "team-lunch"),
    ("chat-lunch", _chat("weekend-plans", "ali: hiking on Saturday?", "bo: count me in"), "team-hike"),
)

# Tasks whose work happens in what is elsewhere a distraction. Their own material is the
# distraction's window, so the split follows the distraction's.
DISTRACTION_TASKS: tuple[RealTask, ...] = (
    T("chess-lesson", "Prepare the chess club's lesson on openings", "teacher", ()),
    T("game-qa", "Test the new tile set of the Mahjongg game", "tester", ()),
    T("pet-campaign", "Collect funny pet clips for the pet food campaign", "marketing", ()),
    T("sports-roundup", "Write the weekend football roundup for the sports page", "journalist", ()),
    T("social-replies", "Reply to comments on the company's X account", "marketing", ()),
    T("headset-order", "Order noise cancelling headphones for the support team", "office", ()),
    T("team-lunch", "Organise the team lunch on Friday", "office", ()),
    T("team-hike", "Plan the team's Saturday hiking trip", "office", ()),
)

# A team's own policy (the real-screens twin of the synthetic `focus-music` family): its focus-music
# player in front of the task's work counts as on-task for that task, and stays off-task for a
# task whose work is not open behind it. No rule knows it (the verifier reads a video in front as
# off-task), so these rows are corrections and their evaluation, never bootstrap rows: they go to
# their own manifest. The title names no task's words.
FOCUS_MUSIC_POLICY = "focus-music"
FOCUS_MUSIC = M(VIDEO, "deep-focus", "Deep Focus - lofi beats, 2 hours")
