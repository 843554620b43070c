"""The widgets as people use them in the demo LMS: ratings, reviews, comments and moderation.

Each person launches the tool from the demo course page (``?as=...``); the tool runs in a
third-party iframe. Every step waits on what the page shows (the ``role=status`` announcement,
the widget's reloaded content), never on a fixed delay.
"""

from __future__ import annotations

from playwright.sync_api import Frame, FrameLocator, Locator, Page, expect

from tests.browser.conftest import DemoSite

WAIT = 15_000  # generous: the suite must pass on a busy machine
HELD = "Your comment is waiting for an instructor\u2019s approval."  # announced when premoderated


# -- helpers (also used by test_accessibility.py) ---------------------------------------------------
def launch(page: Page, site: DemoSite, person: str, course: str = "safety", link: str | None = None) -> FrameLocator:
    """Open ``course`` in the demo LMS as ``person`` (optionally one resource ``link`` by title)."""
    page.goto(f"{site.lms_url}/demo/course/{course}?as={person}")
    if link:
        page.get_by_role("link", name=link, exact=True).click()
        page.wait_for_url(lambda url: "link=" in url, timeout=WAIT)
    frame = page.frame_locator("#tool-frame")
    frame.locator("#wom-app[data-connected='true']").wait_for(timeout=WAIT)
    return frame


def tool_frame(page: Page) -> Frame:
    """The tool's iframe as a Frame, to evaluate script inside it."""
    handle = page.locator("#tool-frame").element_handle(timeout=WAIT)
    frame = handle.content_frame()
    assert frame is not None
    return frame


def region(frame: FrameLocator, name: str) -> Locator:
    return frame.get_by_role("region", name=name)  # "Comments (3)": the heading counts them


def act(frame: FrameLocator, control: Locator, announced: str) -> None:
    """Activate ``control`` and wait until the status region announces ``announced``.

    The status is emptied first, so an earlier identical message cannot satisfy the wait.
    """
    status = frame.locator("#wom-status")
    status.evaluate("element => { element.textContent = ''; }")
    control.click()
    expect(status).to_contain_text(announced, timeout=WAIT)


def star_name(stars: int) -> str:
    return f"{stars} star" if stars == 1 else f"{stars} stars"


def rate(frame: FrameLocator, stars: int, review: str | None = None) -> None:
    ratings = region(frame, "Ratings and reviews")
    ratings.get_by_role("radio", name=star_name(stars), exact=True).check()
    if review is not None:
        ratings.get_by_role("textbox", name="Your review").fill(review)
    act(frame, ratings.get_by_role("button", name="Save rating"), "Your rating is saved.")


def post_comment(frame: FrameLocator, text: str, announced: str = "Your comment is posted.") -> None:
    comments = region(frame, "Comments")
    comments.get_by_role("textbox", name="Add a comment").fill(text)
    act(frame, comments.get_by_role("button", name="Post comment"), announced)


def comment(frame: FrameLocator, text: str) -> Locator:
    """The (outermost) comment article containing ``text``."""
    return region(frame, "Comments").get_by_role("article").filter(has_text=text).first


def review_by(frame: FrameLocator, author: str) -> Locator:
    return region(frame, "Ratings and reviews").get_by_role("article").filter(has_text=author)


def reply(frame: FrameLocator, to: Locator, text: str, announced: str = "Your reply is posted.") -> None:
    to.get_by_role("button", name="Reply", exact=True).first.click()
    to.get_by_role("textbox", name="Your reply").fill(text)
    act(frame, to.get_by_role("button", name="Post reply"), announced)


def report(frame: FrameLocator, item: Locator, reason: str) -> None:
    item.get_by_role("button", name="Report", exact=True).first.click()
    item.get_by_role("textbox", name="Why should an instructor look at this? (optional)").first.fill(reason)
    act(frame, item.get_by_role("button", name="Send report").first, "Thanks. An instructor will look at it.")


def place_widgets(
    page: Page,
    site: DemoSite,
    course: str,
    title: str,
    *,
    hold: bool,
    ratings: bool = True,
    recommendations: bool = False,
) -> None:
    """Ines places widgets in ``course`` with the deep linking picker."""
    page.goto(f"{site.lms_url}/demo/course/{course}?as=ines&link=deep-linking")
    picker = page.frame_locator("#tool-frame")
    picker.get_by_label("Title shown in the course").fill(title)
    if not recommendations:
        picker.get_by_label("Recommended for you").uncheck()
    if not ratings:
        picker.get_by_label("Ratings and reviews").uncheck()
    if hold:
        picker.get_by_label("Hold new comments until an instructor approves them").check()
    picker.get_by_role("button", name="Add to course").click()
    expect(picker.locator("#added")).to_have_text(title, timeout=WAIT)


# -- the full flow across people --------------------------------------------------------------------
def test_ratings_reviews_comments_and_moderation_across_people(page: Page, demo_site: DemoSite) -> None:
    # Ada rates with a review, then changes her mind.
    ada = launch(page, demo_site, "ada")
    ratings = region(ada, "Ratings and reviews")
    expect(ratings).to_contain_text("No ratings yet")
    rate(ada, 4, "Clear and short. The checklist is worth printing.")
    summary = ratings.locator("#wom-rating-summary")
    expect(summary).to_contain_text("4.0 out of 5")
    expect(summary).to_contain_text("1 rating")
    rate(ada, 5)
    expect(summary).to_contain_text("5.0 out of 5")
    expect(summary).to_contain_text("1 rating")
    expect(ratings.get_by_role("radio", name="5 stars", exact=True)).to_be_checked()
    expect(ratings.get_by_role("textbox", name="Your review")).to_have_value(
        "Clear and short. The checklist is worth printing."
    )
    expect(ratings.get_by_role("button", name="Helpful")).to_have_count(0)  # not on her own review

    # Grace finds Ada's review helpful and starts a conversation.
    grace = launch(page, demo_site, "grace")
    helpful = review_by(grace, "Ada Lovelace").get_by_role("button", name="Helpful")
    expect(helpful).to_have_attribute("aria-pressed", "false")
    act(grace, helpful, "Thanks for your vote.")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(review_by(grace, "Ada Lovelace")).to_contain_text("1 person found this helpful")
    post_comment(grace, "Does the fire drill part apply to remote staff?")
    post_comment(grace, "Cheap watches at spam.example, today only!")

    # Ada replies to Grace and reports the advert.
    ada = launch(page, demo_site, "ada")
    reply(ada, comment(ada, "fire drill"), "Yes: section 3 covers working from home.")
    expect(comment(ada, "fire drill").get_by_role("article")).to_contain_text("section 3 covers")
    report(ada, comment(ada, "Cheap watches"), "Advertising")

    # Grace edits her question, then deletes it; Ada's reply stays.
    grace = launch(page, demo_site, "grace")
    question = comment(grace, "fire drill")
    question.get_by_role("button", name="Edit", exact=True).click()
    edited = "Does the fire drill part apply to remote staff too?"
    question.get_by_role("textbox", name="Edit your comment").fill(edited)
    act(grace, question.get_by_role("button", name="Save changes"), "Your comment is updated.")
    question = comment(grace, "remote staff too?")
    expect(question.locator("header").first).to_contain_text("edited")
    question.get_by_role("button", name="Delete", exact=True).click()
    act(grace, question.get_by_role("button", name="Yes, delete it"), "Your comment is deleted.")
    deleted = region(grace, "Comments").get_by_role("article").filter(has_text="This comment was deleted.").first
    expect(deleted).to_contain_text("Yes: section 3 covers working from home.")
    expect(region(grace, "Comments")).not_to_contain_text("remote staff too?")

    # Ines sees the report in the moderation queue and hides the advert with a reason.
    ines = launch(page, demo_site, "ines")
    moderation = region(ines, "Moderation and insights")
    queue = moderation.get_by_role("list", name="Moderation queue")
    entry = queue.get_by_role("article").filter(has_text="Cheap watches")
    expect(entry).to_contain_text("Comment by Grace Hopper")
    expect(entry).to_contain_text("1 report")
    expect(entry).to_contain_text("Advertising")
    entry.get_by_role("button", name="Hide", exact=True).click()
    entry.get_by_role("textbox", name="Reason for hiding").fill("Advertising is not allowed here.")
    act(ines, entry.get_by_role("button", name="Confirm hiding"), "Hidden from learners.")
    expect(moderation).to_contain_text("Nothing is reported or waiting for approval.")
    hidden = comment(ines, "Cheap watches")  # the comments widget was refreshed too
    expect(hidden).to_contain_text("Hidden from learners: Advertising is not allowed here.")
    expect(hidden.get_by_role("button", name="Unhide", exact=True)).to_be_visible()

    # Ada no longer sees it, then removes her rating.
    ada = launch(page, demo_site, "ada")
    comments = region(ada, "Comments")
    expect(comments).to_contain_text("Yes: section 3 covers working from home.")
    expect(comments).not_to_contain_text("Cheap watches")  # gone, as it has no replies to keep
    ratings = region(ada, "Ratings and reviews")
    act(ada, ratings.get_by_role("button", name="Remove my rating"), "Your rating is removed.")
    expect(ratings.locator("#wom-rating-summary")).to_contain_text("No ratings yet")
    expect(ratings.get_by_role("button", name="Remove my rating")).to_have_count(0)
    expect(ratings.get_by_role("radio", checked=True)).to_have_count(0)


def test_held_comments_wait_for_an_instructor(page: Page, demo_site: DemoSite) -> None:
    place_widgets(page, demo_site, "leading", "Held talk", hold=True, ratings=False)

    alan = launch(page, demo_site, "alan", "leading", link="Held talk")
    expect(region(alan, "Ratings and reviews")).to_have_count(0)
    expect(region(alan, "Comments")).to_contain_text("An instructor approves new comments before others see them.")
    post_comment(alan, "Who runs the next workshop?", HELD)
    expect(comment(alan, "next workshop")).to_contain_text("Waiting for approval")

    katherine = launch(page, demo_site, "katherine", "leading", link="Held talk")
    expect(region(katherine, "Comments")).to_contain_text("No comments yet")
    expect(region(katherine, "Comments")).not_to_contain_text("next workshop")

    ines = launch(page, demo_site, "ines", "leading", link="Held talk")
    entry = region(ines, "Moderation and insights").get_by_role("article").filter(has_text="next workshop")
    expect(entry).to_contain_text("Waiting for approval")
    approve = comment(ines, "next workshop").get_by_role("button", name="Approve", exact=True)
    act(ines, approve, "The comment is published.")
    expect(comment(ines, "next workshop")).not_to_contain_text("Waiting for approval")
    expect(region(ines, "Moderation and insights")).to_contain_text("Nothing is reported or waiting for approval.")

    katherine = launch(page, demo_site, "katherine", "leading", link="Held talk")
    expect(comment(katherine, "next workshop")).to_contain_text("Alan Turing")
    expect(comment(katherine, "next workshop")).not_to_contain_text("Waiting for approval")


# -- learner text is text ------------------------------------------------------------------------------
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload=window.__xss=1>',
    "javascript:window.__xss=1",
    '<a href="javascript:window.__xss=1">click me</a>',
    "https://example.org/?next=javascript:window.__xss=1",
    "https://example.org/?q=<b>bold</b>",
]
EVIL = "\n".join(PAYLOADS)


def test_learner_text_is_shown_as_text_and_links_are_safe(page: Page, demo_site: DemoSite) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ada = launch(page, demo_site, "ada")
    rate(ada, 3, EVIL)
    post_comment(ada, EVIL)

    grace = launch(page, demo_site, "grace")  # another learner sees the text as rendered for others
    frame = tool_frame(page)
    review = review_by(grace, "Ada Lovelace").locator(".wom-text")
    posted = comment(grace, "window.__xss").locator(".wom-text")
    for shown in (review, posted):
        text = shown.inner_text()
        for payload in PAYLOADS:
            assert payload in text, (payload, text)
        expect(shown.locator("script, img, svg, b")).to_have_count(0)
        links = shown.get_by_role("link")
        expect(links).to_have_count(2)
        for i in range(2):
            link = links.nth(i)
            assert (link.get_attribute("href") or "").startswith("https://example.org/?")
            assert {"nofollow", "ugc", "noopener"} <= set((link.get_attribute("rel") or "").split())
    assert frame.evaluate("() => document.querySelectorAll('a[href^=\"javascript:\" i]').length") == 0
    assert frame.evaluate("() => typeof window.__xss") == "undefined"
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert dialogs == []


# -- keyboard only ---------------------------------------------------------------------------------------
def test_rating_with_the_keyboard_only(page: Page, demo_site: DemoSite) -> None:
    ada = launch(page, demo_site, "ada")
    ratings = region(ada, "Ratings and reviews")
    ratings.get_by_role("heading", name="Ratings and reviews").focus()

    page.keyboard.press("Tab")
    first = ratings.get_by_role("radio", name="1 star", exact=True)
    expect(first).to_be_focused()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    four = ratings.get_by_role("radio", name="4 stars", exact=True)
    expect(four).to_be_focused()
    expect(four).to_be_checked()
    expect(ratings.get_by_role("radio", checked=True)).to_have_count(1)

    page.keyboard.press("Tab")  # the stars are one tab stop
    expect(ratings.get_by_role("textbox", name="Your review")).to_be_focused()
    page.keyboard.press("Tab")
    save = ratings.get_by_role("button", name="Save rating")
    expect(save).to_be_focused()
    page.keyboard.press("Enter")

    summary = ratings.locator("#wom-rating-summary")
    expect(summary).to_contain_text("4.0 out of 5", timeout=WAIT)
    expect(summary).to_contain_text("1 rating")
    expect(ada.locator("#wom-status")).to_contain_text("Your rating is saved.", timeout=WAIT)
    expect(summary).to_be_focused()  # focus moves to the result, not lost to <body>
    expect(ratings.get_by_role("radio", name="4 stars", exact=True)).to_be_checked()


# -- fitting the LMS frame -------------------------------------------------------------------------------
def frame_height(page: Page) -> float:
    box = page.locator("#tool-frame").bounding_box()
    assert box is not None
    return box["height"]


def test_the_iframe_grows_with_the_comments(page: Page, demo_site: DemoSite) -> None:
    ada = launch(page, demo_site, "ada")
    page.wait_for_function("() => document.getElementById('tool-frame').style.height !== ''", timeout=WAIT)
    before = frame_height(page)
    for n in range(1, 7):
        post_comment(ada, f"Comment number {n}: the iframe should make room for this one as well.")
    page.wait_for_function(
        "before => document.getElementById('tool-frame').getBoundingClientRect().height > before + 300",
        arg=before,
        timeout=WAIT,
    )
    # The frame shows the whole page: nothing scrolls inside it.
    tool_frame(page).wait_for_function(
        "() => document.documentElement.scrollHeight <= document.documentElement.clientHeight", timeout=WAIT
    )


def horizontal_overflow(frame: Frame) -> dict:
    """The frame document's scroll and client widths, and where text sticks out on the right."""
    return frame.evaluate(
        """() => {
          const root = document.documentElement, width = root.clientWidth;
          const wide = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node && wide.length < 10; node = walker.nextNode()) {
            const range = document.createRange();
            range.selectNodeContents(node);
            const right = range.getBoundingClientRect().right;
            if (right > width + 0.5) {
              wide.push(`${node.parentElement.tagName.toLowerCase()}.${node.parentElement.className} right=${right}`);
            }
          }
          return {scroll: root.scrollWidth, client: width, wide};
        }"""
    )


def test_no_horizontal_scroll_at_phone_and_tablet_widths(chromium, demo_site: DemoSite) -> None:  # type: ignore[no-untyped-def]
    long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2
    long_url = "https://example.org/" + "very-long-path-segment/" * 8 + "?with=a&query=string"
    for width in (375, 700):
        context = chromium.new_context(viewport={"width": width, "height": 800})
        try:
            page = context.new_page()
            ada = launch(page, demo_site, "ada")
            if width == 375:  # content once, seen at both widths
                rate(ada, 4, f"{long_word} {long_url}")
                post_comment(ada, f"{long_word} {long_url}")
                reply(ada, comment(ada, long_word), long_word)
                grace = launch(page, demo_site, "grace")
                report(grace, comment(grace, long_word), long_word)
            for person in ("ada", "ines"):
                launch(page, demo_site, person)
                frame = tool_frame(page)
                found = horizontal_overflow(frame)
                assert found["scroll"] <= found["client"], f"{person} at {width}px: {found}"
        finally:
            context.close()
