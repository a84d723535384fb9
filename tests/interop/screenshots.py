"""Screenshots of every payer page at a phone and a desktop size, for people to look at.

    KASSA_BIN=target/debug/kassa .venv/bin/python tests/interop/screenshots.py OUT_DIR [--lang ar]

Starts its own Kassa (the binary in KASSA_BIN) on a fresh SQLite database and a headless Debian
Chromium, walks the native checkout, the Paymentwall page and the Paymob pages through their
states at 390x844 and 1280x800, and writes `<face>-<page>-<width>.png` into OUT_DIR. Nothing is
asserted: this is a design review aid, not a test (the browser tests check the pages). A step
that fails is reported and the walk goes on, so the script also runs against an older build
(`git worktree add ../before <commit> && cargo build -p kassa` there) to compare before and
after. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import _start_kassa, _stop_kassa, new_browser, start_receiver  # noqa: E402
from paymentwall_support import create_project, start_pingback_server  # noqa: E402
from paymob_support import BILLING, DECLINED_CARD, TEST_CARD, create_profile, http  # noqa: E402
from paymentwall import Paymentwall, Product, Widget  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SIZES = [(390, 844), (1280, 800)]
WAIT_S = 10


class Walk:
    def __init__(self, driver, kassa, receiver, pingbacks, out: Path, lang: str):
        self.d, self.kassa, self.receiver, self.pingbacks = driver, kassa, receiver, pingbacks
        self.out, self.lang, self.width = out, lang, 0
        self.failed: list = []

    # ---- helpers ----

    def size(self, w: int, h: int):
        self.width = w
        self.d.set_window_size(max(w, 500), h)
        self.d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600},
        )

    def shot(self, name: str):
        # The whole page, not only the first screen: the height the document needs.
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        w = self.width
        self.d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": w, "height": max(int(height), 300), "deviceScaleFactor": 1, "mobile": w < 600},
        )
        self.d.save_screenshot(str(self.out / f"{name}-{w}.png"))
        self.d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": w, "height": 844 if w < 600 else 800, "deviceScaleFactor": 1, "mobile": w < 600},
        )
        print(f"  {name}-{w}.png")

    def wait(self, condition):
        return WebDriverWait(self.d, WAIT_S, poll_frequency=0.1).until(condition)

    def visible(self, css: str):
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def type(self, css: str, text: str):
        el = self.visible(css)
        el.click()
        el.clear()
        el.send_keys(text)

    def click(self, css: str):
        self.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

    def step(self, name: str, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported, and the walk goes on
            self.failed.append(f"{name}-{self.width}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            traceback.print_exc(limit=1)

    def with_lang(self, url: str) -> str:
        if not self.lang:
            return url
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}lang={self.lang}"

    # ---- native checkout ----

    def native(self):
        exp = "12 / 30"

        def form_and_decline():
            pi = self.kassa.create_intent(self.receiver.url("/done"), amount=4999, currency="eur")
            self.d.get(self.with_lang(pi["checkout_url"]))
            self.visible("#number")
            self.shot("native-form")
            self.type("#number", "4000000000000002")
            self.type("#exp", exp)
            self.type("#cvc", "123")
            self.type("#name", "Ada Lovelace")
            self.click("#pay")
            self.visible("[role=alert]")
            self.shot("native-declined")

        def three_ds():
            pi = self.kassa.create_intent(self.receiver.url("/done"), amount=4999, currency="eur")
            self.d.get(self.with_lang(pi["checkout_url"]))
            self.type("#number", "4000002500003155")
            self.type("#exp", exp)
            self.type("#cvc", "123")
            self.type("#name", "Ada Lovelace")
            self.click("#pay")
            self.wait(lambda d: "/3ds/" in d.current_url)
            self.shot("native-3ds")

        self.step("native-form", form_and_decline)
        self.step("native-3ds", three_ds)

    # ---- Paymentwall ----

    def pw_link(self, project, ps: str = "", widget: str = "p1_1", amount: float = 250.0) -> str:
        Paymentwall.set_api_type(Paymentwall.API_GOODS)
        Paymentwall.set_app_key(project.key)
        Paymentwall.set_secret_key(project.secret)
        Widget.BASE_URL = self.kassa.url("/api")
        extra = {"success_url": self.receiver.url("/done"), "failure_url": self.receiver.url("/done")}
        if ps:
            extra["ps"] = ps
        if self.lang:
            extra["lang"] = self.lang
        product = Product("product301", amount, "EGP", "Gold Membership")
        return Widget("user-shots", widget, [product], extra).get_url()

    def paymentwall(self):
        project = create_project(self.kassa, "digital_goods", self.pingbacks.url("shots"))
        self.pingbacks.check_with("shots", lambda query, params, ip: (True, ""))

        def card():
            self.d.get(self.pw_link(project))
            self.visible("#ps-cc")
            self.shot("pw-methods")
            self.click("#ps-cc")
            self.visible("#number")
            self.shot("pw-card")
            for css, text in (("#number", "4242424242424242"), ("#exp", "12/30"), ("#cvc", "111"), ("#name", "Jo Doe")):
                self.type(css, text)
            self.click("#pay")
            self.visible("#decline, [role=alert], .alert")
            self.shot("pw-declined")
            self.type("#cvc", "123")
            if not self.d.find_element(By.CSS_SELECTOR, "#number").get_attribute("value"):
                for css, text in (("#number", "4242424242424242"), ("#exp", "12/30"), ("#name", "Jo Doe")):
                    self.type(css, text)
            self.click("#pay")
            self.wait(lambda d: d.find_elements(By.ID, "thank-you") or d.find_elements(By.ID, "success"))
            self.shot("pw-success")

        def three_ds():
            self.d.get(self.pw_link(project, "cc"))
            for css, text in (("#number", "4000000000003220"), ("#exp", "12/30"), ("#cvc", "123"), ("#name", "Jo Doe")):
                self.type(css, text)
            self.click("#pay")
            self.visible("#approve")
            self.shot("pw-3ds")

        def wallet():
            self.d.get(self.pw_link(project, "sandboxwallet"))
            self.visible("#phone")
            self.shot("pw-wallet")
            self.type("#phone", "+201001234567")
            self.click("#pay")
            self.visible("#otp")
            self.shot("pw-wallet-code")

        def voucher():
            self.d.get(self.pw_link(project, "sandboxcash"))
            self.visible("#pay")
            self.shot("pw-voucher-form")
            self.click("#pay")
            self.visible("#voucher")
            self.shot("pw-voucher")

        def two_columns():
            self.d.get(self.pw_link(project, "cc", widget="m2_1"))
            self.visible("#number")
            self.shot("pw-card-m2")

        def refused():
            self.d.get(self.pw_link(project).replace("amount=250", "amount=251"))
            self.visible("h1")
            self.shot("pw-refused")

        for name, fn in (("pw-card", card), ("pw-3ds", three_ds), ("pw-wallet", wallet),
                         ("pw-voucher", voucher), ("pw-m2", two_columns), ("pw-refused", refused)):
            self.step(name, fn)

    # ---- Paymob ----

    def pm_profile(self, kinds, **kw):
        """A profile whose payments end on Kassa's own status page (no response callback URL)."""
        profile = create_profile(self.kassa, self.receiver, kinds, **kw)
        for kind in kinds:
            iid = profile.integrations[kind]["id"]
            self.kassa.request(
                "POST", f"/v1/paymob/profiles/{profile.id}/integrations/{iid}", {"response_callback_url": ""}
            )
        return profile

    def pm_checkout(self, profile, methods, amount=25000) -> str:
        r = http(
            "POST",
            self.kassa.url("/v1/intention/"),
            {
                "amount": amount, "currency": "EGP", "payment_methods": methods, "billing_data": BILLING,
                "items": [{"name": "Mug", "amount": amount, "quantity": 1}],
            },
            headers={"Authorization": f"Token {profile.secret_key}"},
        )
        it = r.json()
        q = {"publicKey": profile.public_key, "clientSecret": it["client_secret"]}
        if self.lang:
            q["lang"] = self.lang
        return self.kassa.url("/unifiedcheckout/?" + urllib.parse.urlencode(q))

    def pm_fill(self, number: str):
        for css, text in (("#card-number", number), ("#card-name", "Test Account"),
                          ("#card-expiry", "12/30"), ("#card-cvv", "123")):
            self.type(css, text)

    def paymob(self):
        profile = self.pm_profile(("card", "wallet", "kiosk"))
        # Without 3-D Secure a declined card is declined at once.
        no_3ds = self.pm_profile(("card",), three_d_secure=False)
        choose = '#pm-methods label[data-method="{}"], #pm-methods [data-method="{}"]'

        def card():
            self.d.get(self.pm_checkout(profile, ["card", "wallet", "kiosk"]))
            self.click(choose.format("card", "card"))
            self.visible("#card-number")
            self.shot("pm-unified")

        def declined():
            self.d.get(self.pm_checkout(no_3ds, ["card"]))
            self.click(choose.format("card", "card"))
            self.pm_fill(DECLINED_CARD)
            self.click("#pay-button")
            self.wait(lambda d: "status" in d.current_url)
            self.visible("h1")
            self.shot("pm-declined")

        def three_ds_and_status():
            self.d.get(self.pm_checkout(profile, ["card"]))
            self.click(choose.format("card", "card"))
            self.pm_fill(TEST_CARD)
            self.click("#pay-button")
            self.visible("#approve")
            self.shot("pm-3ds")
            self.click("#approve")
            self.wait(lambda d: "status" in d.current_url)
            self.visible("h1")
            self.shot("pm-status")

        def wallet():
            self.d.get(self.pm_checkout(profile, ["wallet"]))
            self.click(choose.format("wallet", "wallet"))
            self.type("#wallet-phone, input[type=tel]", "01010101010")
            self.click("#pay-button")
            self.visible("#mpin")
            self.shot("pm-wallet")

        def kiosk():
            self.d.get(self.pm_checkout(profile, ["kiosk"]))
            self.click(choose.format("kiosk", "kiosk"))
            self.click("#pay-button")
            self.visible("#bill-reference")
            self.shot("pm-kiosk")

        def frame():
            self.d.get(self.kassa.url("/iframe-card-v2/?" + urllib.parse.urlencode({"publicKey": profile.public_key})))
            self.visible("#card-number")
            self.shot("pm-card-frame")

        for name, fn in (("pm-card", card), ("pm-declined", declined), ("pm-3ds", three_ds_and_status), ("pm-wallet", wallet),
                         ("pm-kiosk", kiosk), ("pm-frame", frame)):
            self.step(name, fn)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--lang", default="", help="the payer's language (en, ar, fr, de, es, tr)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kassa-shots-") as tmp:
        tmp = Path(tmp)
        (tmp / "kassa").mkdir()
        kassa = _start_kassa(f"sqlite://{tmp}/kassa.db", tmp / "kassa")
        receiver, stop_receiver = start_receiver()
        pingbacks, stop_pingbacks = start_pingback_server()
        driver = new_browser(tmp, SIZES[0])
        failed = []
        try:
            for w, h in SIZES:
                walk = Walk(driver, kassa, receiver, pingbacks, args.out, args.lang)
                walk.size(w, h)
                print(f"{w}x{h}:")
                walk.native()
                walk.paymentwall()
                walk.paymob()
                failed += walk.failed
        finally:
            driver.quit()
            stop_pingbacks()
            stop_receiver()
            _stop_kassa(kassa)
    if failed:
        print("steps that failed (an older build may lack these pages):")
        for f in failed:
            print("  " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
