//! What a signed payment-page link asks the customer to pay for, read from its (already
//! verified) parameters. Pure: no I/O.
//!
//! The values were signed exactly as received; here they are given meaning and checked, because
//! the signature base has no separators (see `kassa_paymentwall`'s crate docs): a value that does
//! not parse is refused rather than guessed at.

use kassa_core::calendar::{add_interval, IntervalUnit};
use kassa_core::money::{Currency, Money};
use serde::{Deserialize, Serialize};

/// The project's API type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiType {
    DigitalGoods,
    VirtualCurrency,
    Cart,
}

impl ApiType {
    pub fn parse(s: &str) -> Option<ApiType> {
        match s {
            "digital_goods" => Some(ApiType::DigitalGoods),
            "virtual_currency" => Some(ApiType::VirtualCurrency),
            "cart" => Some(ApiType::Cart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::DigitalGoods => "digital_goods",
            ApiType::VirtualCurrency => "virtual_currency",
            ApiType::Cart => "cart",
        }
    }

    /// The name Paymentwall's error pages use.
    pub fn display_name(self) -> &'static str {
        match self {
            ApiType::DigitalGoods => "Digital Goods API",
            ApiType::VirtualCurrency => "Virtual Currency API",
            ApiType::Cart => "Cart API",
        }
    }

    /// The payment-page path this API type's links use.
    pub fn path(self) -> &'static str {
        match self {
            ApiType::DigitalGoods => "/api/subscription",
            ApiType::VirtualCurrency => "/api/ps",
            ApiType::Cart => "/api/cart",
        }
    }

    pub fn wire(self) -> kassa_paymentwall::ApiType {
        match self {
            ApiType::DigitalGoods => kassa_paymentwall::ApiType::DigitalGoods,
            ApiType::VirtualCurrency => kassa_paymentwall::ApiType::VirtualCurrency,
            ApiType::Cart => kassa_paymentwall::ApiType::Cart,
        }
    }
}

/// A billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub length: u32,
    /// `day`, `week`, `month` or `year`.
    pub unit: PeriodUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodUnit {
    Day,
    Week,
    Month,
    Year,
}

impl PeriodUnit {
    pub fn parse(s: &str) -> Option<PeriodUnit> {
        match s {
            "day" => Some(PeriodUnit::Day),
            "week" => Some(PeriodUnit::Week),
            "month" => Some(PeriodUnit::Month),
            "year" => Some(PeriodUnit::Year),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodUnit::Day => "day",
            PeriodUnit::Week => "week",
            PeriodUnit::Month => "month",
            PeriodUnit::Year => "year",
        }
    }
}

impl PeriodUnit {
    fn interval(self) -> IntervalUnit {
        match self {
            PeriodUnit::Day => IntervalUnit::Day,
            PeriodUnit::Week => IntervalUnit::Week,
            PeriodUnit::Month => IntervalUnit::Month,
            PeriodUnit::Year => IntervalUnit::Year,
        }
    }
}

impl Period {
    /// The end of one period starting at `start_ms` (the core's calendar: a monthly period
    /// keeps its day of the month, or ends on the last day of a shorter month).
    pub fn add_to(&self, start_ms: i64) -> i64 {
        add_interval(start_ms, self.unit.interval(), i64::from(self.length))
    }

    /// Roughly how long the period is, for limits.
    pub fn approx_days(&self) -> i64 {
        let n = i64::from(self.length);
        match self.unit {
            PeriodUnit::Day => n,
            PeriodUnit::Week => 7 * n,
            PeriodUnit::Month => 30 * n,
            PeriodUnit::Year => 365 * n,
        }
    }
}

/// One priced product (a one-time product, a subscription phase, or a cart line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The merchant's id (`ag_external_id`, `external_ids[i]`): the pingback's `goodsid`.
    pub external_id: String,
    pub name: String,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
}

/// A subscription's plan: what is billed each period, after an optional trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The product billed every period (after the trial, if there is one).
    pub main: Item,
    pub period: Period,
    pub recurring: bool,
    /// A trial billed once first, for its own period.
    pub trial: Option<(Item, Period)>,
}

/// What a link sells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Product {
    Fixed {
        item: Item,
    },
    Subscription {
        plan: Plan,
    },
    Cart {
        items: Vec<Item>,
        amount: i64,
        currency: String,
    },
    VirtualCurrency {
        amount: i64,
        currency: String,
        /// Amount of virtual currency credited (the pingback's `currency`).
        virtual_amount: String,
        virtual_name: String,
    },
}

impl Product {
    /// What the first payment charges: (minor units, currency code).
    pub fn first_charge(&self) -> (i64, &str) {
        match self {
            Product::Fixed { item } => (item.amount, &item.currency),
            Product::Subscription { plan } => match &plan.trial {
                Some((t, _)) => (t.amount, &t.currency),
                None => (plan.main.amount, &plan.main.currency),
            },
            Product::Cart {
                amount, currency, ..
            }
            | Product::VirtualCurrency {
                amount, currency, ..
            } => (*amount, currency),
        }
    }

    /// A short description for the payment page and the intent.
    pub fn description(&self) -> String {
        match self {
            Product::Fixed { item } => item.name.clone(),
            Product::Subscription { plan } => {
                let main = &plan.main;
                match &plan.trial {
                    Some((t, p)) => format!(
                        "{} (trial, {} {}), then {}",
                        t.name,
                        p.length,
                        plural(p.unit.as_str(), p.length),
                        main.name
                    ),
                    None => main.name.clone(),
                }
            }
            Product::Cart { items, .. } => {
                let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
                names.join(", ")
            }
            Product::VirtualCurrency {
                virtual_amount,
                virtual_name,
                ..
            } => format!("{virtual_amount} {virtual_name}"),
        }
    }

    pub fn is_subscription(&self) -> bool {
        matches!(self, Product::Subscription { .. })
    }
}

fn plural(unit: &str, n: u32) -> String {
    if n == 1 {
        unit.to_string()
    } else {
        format!("{unit}s")
    }
}

/// Why a link's values could not be understood. The message is shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProductError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ProductError> {
    Err(ProductError(msg.into()))
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn non_empty<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    get(params, name).filter(|v| !v.is_empty())
}

/// Parses an amount as the SDKs render it (`9.99`, `10`, `10.0`, `10.00`) in `currency`:
/// trailing fraction zeros beyond the currency's exponent are tolerated, nothing else is.
pub fn parse_amount(raw: &str, currency: Currency, param: &str) -> Result<i64, ProductError> {
    let trimmed = match raw.split_once('.') {
        Some((int, frac)) if frac.len() > currency.exponent() as usize => {
            let keep = currency.exponent() as usize;
            if !frac[keep..].bytes().all(|b| b == b'0') {
                return err(format!(
                    "{param} has more decimals than {} allows.",
                    currency.code()
                ));
            }
            if keep == 0 {
                int.to_string()
            } else {
                format!("{int}.{}", &frac[..keep])
            }
        }
        _ => raw.to_string(),
    };
    let money = Money::from_decimal_str(&trimmed, currency)
        .map_err(|_| ProductError(format!("{param} is not a valid amount.")))?;
    if money.amount == 0 {
        return err(format!("{param} must be greater than zero."));
    }
    Ok(money.amount)
}

fn parse_currency(raw: Option<&str>, param: &str) -> Result<Currency, ProductError> {
    match raw {
        None | Some("") => err(format!("{param} is required.")),
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => {
            Currency::parse(c).map_err(|_| ProductError(format!("{param} {c} is not supported.")))
        }
        Some(_) => err(format!("{param} must be an upper-case ISO 4217 code.")),
    }
}

fn text(v: &str, param: &str, max: usize) -> Result<String, ProductError> {
    if v.chars().count() > max || v.chars().any(|c| c.is_control()) {
        return err(format!(
            "{param} must be at most {max} characters without control characters."
        ));
    }
    Ok(v.to_string())
}

fn parse_period(
    params: &[(String, String)],
    len_name: &str,
    type_name: &str,
) -> Result<Period, ProductError> {
    let length = non_empty(params, len_name)
        .and_then(|v| {
            (v.bytes().all(|b| b.is_ascii_digit()) && v.len() <= 4)
                .then(|| v.parse::<u32>().ok())
                .flatten()
        })
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| ProductError(format!("{len_name} must be a whole number from 1.")))?;
    let unit = non_empty(params, type_name)
        .and_then(PeriodUnit::parse)
        .ok_or_else(|| ProductError(format!("{type_name} must be day, week, month or year.")))?;
    Ok(Period { length, unit })
}

/// Settings of the project that shape products.
#[derive(Debug, Clone)]
pub struct ProductRules {
    pub vc_name: String,
    /// Virtual currency per one major unit of the paid currency, as a decimal string.
    pub vc_rate: String,
}

/// Reads what a link sells. Only custom-price ("flexible") links are supported: Kassa keeps no
/// product catalogue, so a link without a price is refused with a message that says so.
pub fn parse_product(
    api: ApiType,
    params: &[(String, String)],
    rules: &ProductRules,
) -> Result<Product, ProductError> {
    match api {
        ApiType::DigitalGoods => parse_goods(params),
        ApiType::Cart => parse_cart(params),
        ApiType::VirtualCurrency => parse_vc(params, rules),
    }
}

fn parse_item(
    params: &[(String, String)],
    amount_name: &str,
    currency_name: &str,
    id_name: &str,
    name_name: &str,
) -> Result<Item, ProductError> {
    let Some(raw_amount) = non_empty(params, amount_name) else {
        return err(format!(
            "{amount_name} is required: this gateway sells custom-price products only \
             (stored products are not configured)."
        ));
    };
    let currency = parse_currency(get(params, currency_name), currency_name)?;
    let amount = parse_amount(raw_amount, currency, amount_name)?;
    let external_id = match non_empty(params, id_name) {
        Some(id) => text(id, id_name, 256)?,
        None => return err(format!("{id_name} is required.")),
    };
    let name = match non_empty(params, name_name) {
        Some(n) => text(n, name_name, 256)?,
        None => external_id.clone(),
    };
    Ok(Item {
        external_id,
        name,
        amount,
        currency: currency.code().to_string(),
    })
}

fn parse_goods(params: &[(String, String)]) -> Result<Product, ProductError> {
    let item = parse_item(
        params,
        "amount",
        "currencyCode",
        "ag_external_id",
        "ag_name",
    )?;
    match non_empty(params, "ag_type").unwrap_or("fixed") {
        "fixed" => Ok(Product::Fixed { item }),
        "subscription" => {
            let period = parse_period(params, "ag_period_length", "ag_period_type")?;
            let recurring = match get(params, "ag_recurring") {
                None | Some("") | Some("0") => false,
                Some("1") => true,
                Some(_) => return err("ag_recurring must be 0 or 1."),
            };
            if recurring && !(3..365).contains(&period.approx_days()) {
                return err("A recurring subscription's period must be at least 3 days and shorter than a year.");
            }
            let trial = match get(params, "ag_trial") {
                None | Some("") | Some("0") => false,
                Some("1") => true,
                Some(_) => return err("ag_trial must be 0 or 1."),
            };
            if trial {
                if !recurring {
                    return err("A trial needs a recurring subscription (ag_recurring=1).");
                }
                let main = parse_item(
                    params,
                    "post_trial_amount",
                    "post_trial_currencyCode",
                    "ag_post_trial_external_id",
                    "ag_post_trial_name",
                )?;
                let main_period = parse_period(
                    params,
                    "ag_post_trial_period_length",
                    "ag_post_trial_period_type",
                )?;
                if !(3..365).contains(&main_period.approx_days()) {
                    return err("A recurring subscription's period must be at least 3 days and shorter than a year.");
                }
                Ok(Product::Subscription {
                    plan: Plan {
                        main,
                        period: main_period,
                        recurring: true,
                        trial: Some((item, period)),
                    },
                })
            } else {
                Ok(Product::Subscription {
                    plan: Plan {
                        main: item,
                        period,
                        recurring,
                        trial: None,
                    },
                })
            }
        }
        _ => err("ag_type must be fixed or subscription."),
    }
}

/// `name[index]` parameters, by index, checked to be 0..n without gaps.
fn indexed<'a>(params: &'a [(String, String)], base: &str) -> Result<Vec<&'a str>, ProductError> {
    let mut found: Vec<(usize, &str)> = Vec::new();
    for (k, v) in params {
        if let Some(rest) = k.strip_prefix(base).and_then(|r| r.strip_prefix('[')) {
            let Some(idx) = rest.strip_suffix(']') else {
                return err(format!("{k} is not a valid {base} parameter."));
            };
            let i = if idx.bytes().all(|b| b.is_ascii_digit()) && !idx.is_empty() && idx.len() <= 3
            {
                idx.parse::<usize>()
                    .map_err(|_| ProductError(format!("{k} has a bad index.")))?
            } else {
                return err(format!("{base}[] needs explicit indexes 0, 1, 2…"));
            };
            found.push((i, v.as_str()));
        }
    }
    found.sort_by_key(|(i, _)| *i);
    for (n, (i, _)) in found.iter().enumerate() {
        if *i != n {
            return err(format!("{base} indexes must run 0, 1, 2… without gaps."));
        }
    }
    Ok(found.into_iter().map(|(_, v)| v).collect())
}

const MAX_CART_ITEMS: usize = 100;

fn parse_cart(params: &[(String, String)]) -> Result<Product, ProductError> {
    let ids = indexed(params, "external_ids")?;
    if ids.is_empty() {
        return err("external_ids[0] is required.");
    }
    if ids.len() > MAX_CART_ITEMS {
        return err(format!("A cart holds at most {MAX_CART_ITEMS} products."));
    }
    let prices = indexed(params, "prices")?;
    let currencies = indexed(params, "currencies")?;
    let names = indexed(params, "names")?;
    if prices.len() != ids.len() {
        return err("Every product needs its price (prices[i]): this gateway sells custom-price products only.");
    }
    let mut items = Vec::with_capacity(ids.len());
    let mut cart_currency: Option<Currency> = None;
    let mut total: i64 = 0;
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() {
            return err(format!("external_ids[{i}] is empty."));
        }
        let currency = parse_currency(currencies.get(i).copied(), &format!("currencies[{i}]"))?;
        if cart_currency.is_some_and(|c| c != currency) {
            return err("All products in a cart must be priced in the same currency.");
        }
        cart_currency = Some(currency);
        let amount = parse_amount(prices[i], currency, &format!("prices[{i}]"))?;
        total = total
            .checked_add(amount)
            .filter(|t| *t <= kassa_core::money::MAX_AMOUNT)
            .ok_or_else(|| ProductError("The cart total is too large.".into()))?;
        let name = match names.get(i).filter(|n| !n.is_empty()) {
            Some(n) => text(n, &format!("names[{i}]"), 256)?,
            None => id.to_string(),
        };
        items.push(Item {
            external_id: text(id, &format!("external_ids[{i}]"), 256)?,
            name,
            amount,
            currency: currency.code().to_string(),
        });
    }
    let currency = cart_currency
        .map(|c| c.code().to_string())
        .unwrap_or_default();
    Ok(Product::Cart {
        items,
        amount: total,
        currency,
    })
}

fn parse_vc(params: &[(String, String)], rules: &ProductRules) -> Result<Product, ProductError> {
    let Some(raw_amount) = non_empty(params, "amount") else {
        return err("amount and currencyCode are required: this gateway sells custom-price virtual currency packages only.");
    };
    let currency = parse_currency(get(params, "currencyCode"), "currencyCode")?;
    let amount = parse_amount(raw_amount, currency, "amount")?;
    Ok(Product::VirtualCurrency {
        amount,
        currency: currency.code().to_string(),
        virtual_amount: virtual_amount(amount, currency, &rules.vc_rate),
        virtual_name: rules.vc_name.clone(),
    })
}

/// `amount` (minor units) × `rate` per major unit, rounded down to a whole number.
pub fn virtual_amount(amount: i64, currency: Currency, rate: &str) -> String {
    // rate as a decimal with up to 6 fraction digits, in millionths.
    let (int, frac) = rate.split_once('.').unwrap_or((rate, ""));
    let frac6: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let micro: i128 = format!("{int}{frac6}").parse().unwrap_or(0);
    let per_major = 10i128.pow(currency.exponent());
    let v = i128::from(amount) * micro / per_major / 1_000_000;
    v.to_string()
}

/// Checks a virtual-currency rate setting.
pub fn valid_rate(rate: &str) -> bool {
    let (int, frac) = rate.split_once('.').unwrap_or((rate, ""));
    !int.is_empty()
        && int.len() <= 9
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 6
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (rate.split_once('.').is_none() || !frac.is_empty())
        && rate.bytes().any(|b| b.is_ascii_digit() && b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rules() -> ProductRules {
        ProductRules {
            vc_name: "Coins".into(),
            vc_rate: "100".into(),
        }
    }

    #[test]
    fn amounts_in_every_sdk_rendering_mean_the_same() {
        let usd = Currency::parse("USD").unwrap();
        for raw in ["10", "10.0", "10.00", "10.000"] {
            assert_eq!(parse_amount(raw, usd, "amount").unwrap(), 1000, "{raw}");
        }
        assert_eq!(parse_amount("9.99", usd, "amount").unwrap(), 999);
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(parse_amount("1000.0", jpy, "amount").unwrap(), 1000);
        assert!(parse_amount("9.999", usd, "amount").is_err());
        assert!(parse_amount("-1", usd, "amount").is_err());
        assert!(parse_amount("0", usd, "amount").is_err());
        assert!(parse_amount("1e3", usd, "amount").is_err());
        assert!(parse_amount("None", usd, "amount").is_err());
    }

    #[test]
    fn a_fixed_product_from_the_reference_link() {
        let params = p(&[
            ("amount", "9.99"),
            ("currencyCode", "USD"),
            ("ag_name", "Gold Membership"),
            ("ag_external_id", "product301"),
            ("ag_type", "fixed"),
        ]);
        let prod = parse_product(ApiType::DigitalGoods, &params, &rules()).unwrap();
        assert_eq!(prod.first_charge(), (999, "USD"));
        assert_eq!(prod.description(), "Gold Membership");
    }

    #[test]
    fn a_trial_is_billed_first_then_the_post_trial_product() {
        let params = p(&[
            ("amount", "0.99"),
            ("currencyCode", "USD"),
            ("ag_name", "Trial"),
            ("ag_external_id", "trial301"),
            ("ag_type", "subscription"),
            ("ag_period_length", "7"),
            ("ag_period_type", "day"),
            ("ag_recurring", "1"),
            ("ag_trial", "1"),
            ("ag_post_trial_external_id", "product301"),
            ("ag_post_trial_period_length", "1"),
            ("ag_post_trial_period_type", "month"),
            ("ag_post_trial_name", "Gold Membership"),
            ("post_trial_amount", "9.99"),
            ("post_trial_currencyCode", "USD"),
        ]);
        let prod = parse_product(ApiType::DigitalGoods, &params, &rules()).unwrap();
        assert_eq!(prod.first_charge(), (99, "USD"));
        let Product::Subscription { plan } = prod else {
            panic!()
        };
        assert_eq!(plan.main.external_id, "product301");
        assert_eq!(plan.main.amount, 999);
        assert_eq!(plan.trial.as_ref().unwrap().0.external_id, "trial301");
        assert_eq!(
            plan.trial.unwrap().1,
            Period {
                length: 7,
                unit: PeriodUnit::Day
            }
        );
    }

    #[test]
    fn subscriptions_need_sane_periods() {
        let base = [
            ("amount", "5"),
            ("currencyCode", "EUR"),
            ("ag_external_id", "s1"),
            ("ag_type", "subscription"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            parse_product(ApiType::DigitalGoods, &p(&v), &rules())
        };
        assert!(with(&[("ag_period_length", "1"), ("ag_period_type", "month")]).is_ok());
        assert!(with(&[("ag_period_length", "0"), ("ag_period_type", "month")]).is_err());
        assert!(with(&[("ag_period_length", "1"), ("ag_period_type", "fortnight")]).is_err());
        assert!(with(&[("ag_period_length", "1")]).is_err());
        // recurring needs >= 3 days and < 1 year
        assert!(with(&[
            ("ag_period_length", "1"),
            ("ag_period_type", "day"),
            ("ag_recurring", "1")
        ])
        .is_err());
        assert!(with(&[
            ("ag_period_length", "1"),
            ("ag_period_type", "year"),
            ("ag_recurring", "1")
        ])
        .is_err());
        // Python sends ag_recurring=0 explicitly
        assert!(with(&[
            ("ag_period_length", "1"),
            ("ag_period_type", "day"),
            ("ag_recurring", "0")
        ])
        .is_ok());
        assert!(with(&[
            ("ag_period_length", "1"),
            ("ag_period_type", "month"),
            ("ag_recurring", "yes")
        ])
        .is_err());
    }

    #[test]
    fn goods_links_need_a_price_and_a_product_id() {
        let r = rules();
        assert!(parse_product(ApiType::DigitalGoods, &p(&[("ag_external_id", "x")]), &r).is_err());
        assert!(parse_product(
            ApiType::DigitalGoods,
            &p(&[("amount", "1"), ("currencyCode", "USD")]),
            &r
        )
        .is_err());
        // Python renders a missing currency as an empty value
        assert!(parse_product(
            ApiType::DigitalGoods,
            &p(&[
                ("amount", "1"),
                ("currencyCode", ""),
                ("ag_external_id", "x")
            ]),
            &r
        )
        .is_err());
        assert!(parse_product(
            ApiType::DigitalGoods,
            &p(&[
                ("amount", "1"),
                ("currencyCode", "usd"),
                ("ag_external_id", "x")
            ]),
            &r
        )
        .is_err());
        assert!(parse_product(
            ApiType::DigitalGoods,
            &p(&[
                ("amount", "1"),
                ("currencyCode", "USD"),
                ("ag_external_id", "x"),
                ("ag_type", "fixedamount=9.99")
            ]),
            &r
        )
        .is_err());
    }

    #[test]
    fn a_cart_sums_its_lines_in_one_currency() {
        let params = p(&[
            ("external_ids[0]", "product301"),
            ("external_ids[1]", "product607"),
            ("prices[0]", "3.33"),
            ("prices[1]", "7.77"),
            ("currencies[0]", "EUR"),
            ("currencies[1]", "EUR"),
        ]);
        let prod = parse_product(ApiType::Cart, &params, &rules()).unwrap();
        assert_eq!(prod.first_charge(), (1110, "EUR"));
        let mixed = p(&[
            ("external_ids[0]", "a"),
            ("external_ids[1]", "b"),
            ("prices[0]", "1"),
            ("prices[1]", "1"),
            ("currencies[0]", "EUR"),
            ("currencies[1]", "USD"),
        ]);
        assert!(parse_product(ApiType::Cart, &mixed, &rules()).is_err());
        let gap = p(&[
            ("external_ids[0]", "a"),
            ("external_ids[2]", "b"),
            ("prices[0]", "1"),
            ("prices[2]", "1"),
            ("currencies[0]", "EUR"),
            ("currencies[2]", "EUR"),
        ]);
        assert!(parse_product(ApiType::Cart, &gap, &rules()).is_err());
        let unpriced = p(&[("external_ids[0]", "a")]);
        assert!(parse_product(ApiType::Cart, &unpriced, &rules()).is_err());
    }

    #[test]
    fn virtual_currency_is_credited_at_the_project_rate() {
        let params = p(&[("amount", "4.99"), ("currencyCode", "USD")]);
        let prod = parse_product(ApiType::VirtualCurrency, &params, &rules()).unwrap();
        match prod {
            Product::VirtualCurrency { virtual_amount, .. } => assert_eq!(virtual_amount, "499"),
            _ => panic!(),
        }
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(virtual_amount(1000, usd, "2.5"), "25");
        assert!(valid_rate("100") && valid_rate("2.5") && !valid_rate("0") && !valid_rate("1."));
        assert!(!valid_rate("-1") && !valid_rate("abc"));
    }

    #[test]
    fn periods_add_on_the_cores_calendar() {
        use kassa_core::calendar::{days_from_civil, DAY_MS};
        let jan31 = days_from_civil(2026, 1, 31) * DAY_MS + 36_000_000;
        let month = Period {
            length: 1,
            unit: PeriodUnit::Month,
        };
        assert_eq!(
            month.add_to(jan31),
            days_from_civil(2026, 2, 28) * DAY_MS + 36_000_000
        );
        let weeks = Period {
            length: 2,
            unit: PeriodUnit::Week,
        };
        assert_eq!(weeks.add_to(0), 14 * DAY_MS);
    }
}
