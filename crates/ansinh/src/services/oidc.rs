//! OpenID Connect login for the citizen portal — the national e-ID (VNeID) or any OIDC
//! provider the province registers with. The flow needs no outbound connection from the
//! server: the browser is sent to the provider's authorization endpoint asking for an ID token
//! only (`response_type=id_token`, `response_mode=form_post`, OIDC Core 3.2), the provider posts
//! the token back, and it is verified here with the provider's public keys (a JWKS file the
//! operator keeps, as the provider publishes it): RS256 only, issuer, audience, expiry and the
//! nonce of a single-use state kept in the database. The claim holding the personal ID number is
//! configurable.
//!
//! Written by hand over `rsa`: the checks are few and fixed, and the JWT crates would bring an
//! HTTP client, TLS and algorithms we must refuse anyway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What `[portal.oidc]` configures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// must equal the tokens' `iss`
    pub issuer: String,
    pub client_id: String,
    /// the provider's authorization endpoint
    pub authorize_url: String,
    /// this server's callback as registered with the provider (…/portal/eid/callback)
    pub redirect_url: String,
    /// the provider's public keys (JSON Web Key Set)
    pub jwks_file: String,
    /// the claim holding the 12-digit personal ID number
    pub personal_id_claim: String,
    /// the button's label on the lookup page
    pub label: String,
}

/// A configured provider with its keys.
#[derive(Debug, Clone)]
pub struct Provider {
    pub settings: Settings,
    keys: Vec<(Option<String>, RsaPublicKey)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("algorithm {0:?} is not accepted (RS256 only)")]
    Algorithm(String),
    #[error("the signature does not verify with the provider's keys")]
    Signature,
    #[error("claim {0} is missing or wrong")]
    Claim(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("claim {claim} does not hold a valid personal ID number")]
    PersonalId { claim: String },
}

/// Reads a JWKS (`{"keys": [{"kty": "RSA", "kid": …, "n": …, "e": …}, …]}`); RSA signing keys only.
pub fn parse_jwks(text: &str) -> Result<Vec<(Option<String>, RsaPublicKey)>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let keys = v["keys"].as_array().ok_or("no \"keys\" array")?;
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if k["kty"] != "RSA" || k.get("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let part = |name: &str| -> Result<BigUint, String> {
            let s = k[name].as_str().ok_or_else(|| format!("key {i}: no {name}"))?;
            let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|e| format!("key {i}: {name}: {e}"))?;
            Ok(BigUint::from_bytes_be(&bytes))
        };
        let key = RsaPublicKey::new(part("n")?, part("e")?).map_err(|e| format!("key {i}: {e}"))?;
        out.push((k["kid"].as_str().map(str::to_string), key));
    }
    if out.is_empty() {
        return Err("no RSA signing key".into());
    }
    Ok(out)
}

impl Provider {
    /// Checks the settings and reads the keys; the reason when something is wrong.
    pub fn load(settings: Settings) -> Result<Provider, String> {
        for (name, v) in [
            ("issuer", &settings.issuer),
            ("client_id", &settings.client_id),
            ("authorize_url", &settings.authorize_url),
            ("redirect_url", &settings.redirect_url),
            ("jwks_file", &settings.jwks_file),
        ] {
            if v.trim().is_empty() {
                return Err(format!("portal.oidc.{name} is required"));
            }
        }
        for (name, v) in [("authorize_url", &settings.authorize_url), ("redirect_url", &settings.redirect_url)] {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(format!("portal.oidc.{name} must be an http(s) URL"));
            }
        }
        let text = std::fs::read_to_string(&settings.jwks_file)
            .map_err(|e| format!("portal.oidc.jwks_file {}: {e}", settings.jwks_file))?;
        let keys = parse_jwks(&text).map_err(|e| format!("portal.oidc.jwks_file {}: {e}", settings.jwks_file))?;
        Ok(Provider { settings, keys })
    }

    /// Where to send the browser.
    pub fn authorize_url(&self, state: &str, nonce: &str) -> String {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "id_token")
            .append_pair("response_mode", "form_post")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("scope", "openid")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .finish();
        let sep = if self.settings.authorize_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{q}", self.settings.authorize_url)
    }

    /// Verifies an ID token for `nonce` at `now` (Unix seconds); the personal ID it carries.
    pub fn verify(&self, token: &str, nonce: &str, now: i64) -> Result<String, OidcError> {
        let mut parts = token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(OidcError::Malformed("expected three parts"));
        };
        let json = |part: &str| -> Result<Value, OidcError> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| OidcError::Malformed("base64"))?;
            serde_json::from_slice(&bytes).map_err(|_| OidcError::Malformed("JSON"))
        };
        let header = json(h)?;
        let alg = header["alg"].as_str().unwrap_or("").to_string();
        if alg != "RS256" {
            return Err(OidcError::Algorithm(alg));
        }
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| OidcError::Malformed("signature"))?;
        let digest = Sha256::digest(format!("{h}.{p}").as_bytes());
        let kid = header["kid"].as_str();
        let verified = self
            .keys
            .iter()
            .filter(|(k, _)| kid.is_none() || k.is_none() || k.as_deref() == kid)
            .any(|(_, key)| key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig).is_ok());
        if !verified {
            return Err(OidcError::Signature);
        }
        let claims = json(p)?;
        if claims["iss"].as_str() != Some(self.settings.issuer.as_str()) {
            return Err(OidcError::Claim("iss"));
        }
        let client = self.settings.client_id.as_str();
        let aud_ok = match &claims["aud"] {
            Value::String(a) => a == client,
            Value::Array(list) => list.iter().any(|a| a.as_str() == Some(client)),
            _ => false,
        };
        if !aud_ok {
            return Err(OidcError::Claim("aud"));
        }
        // several audiences: the token must have been issued to us (OIDC Core 3.1.3.7)
        let several = claims["aud"].as_array().is_some_and(|a| a.len() > 1);
        if (several || claims.get("azp").is_some()) && claims["azp"].as_str() != Some(client) {
            return Err(OidcError::Claim("azp"));
        }
        const LEEWAY: i64 = 60;
        match claims["exp"].as_i64() {
            Some(exp) if exp.saturating_add(LEEWAY) >= now => {}
            Some(_) => return Err(OidcError::Expired),
            None => return Err(OidcError::Claim("exp")),
        }
        match claims["iat"].as_i64() {
            Some(iat) if iat <= now.saturating_add(LEEWAY) => {}
            _ => return Err(OidcError::Claim("iat")),
        }
        let nonce_ok =
            claims["nonce"].as_str().is_some_and(|n| crate::http::constant_time_eq(n.as_bytes(), nonce.as_bytes()));
        if !nonce_ok {
            return Err(OidcError::Claim("nonce"));
        }
        let claim = if self.settings.personal_id_claim.is_empty() { "sub" } else { &self.settings.personal_id_claim };
        let raw = claims[claim].as_str().unwrap_or("");
        domain::PersonalId::parse(raw)
            .map(|p| p.to_string())
            .map_err(|_| OidcError::PersonalId { claim: claim.to_string() })
    }
}

/// Test support: an RSA key pair, its JWKS and signed tokens.
#[cfg(test)]
pub mod testkey {
    use super::*;
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPrivateKey;

    pub fn key() -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap()
    }

    pub fn jwks(k: &RsaPrivateKey, kid: &str) -> String {
        let p = k.to_public_key();
        serde_json::json!({"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(p.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(p.e().to_bytes_be())}]})
        .to_string()
    }

    pub fn sign(k: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let digest = Sha256::digest(format!("{h}.{p}").as_bytes());
        let sig = k.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::testkey::*;
    use super::*;
    use serde_json::json;

    fn provider(jwks: &str) -> Provider {
        Provider {
            settings: Settings {
                issuer: "https://sso.example.vn".into(),
                client_id: "ansinh-dongnai".into(),
                authorize_url: "https://sso.example.vn/authorize".into(),
                redirect_url: "https://ansinh.example.vn/portal/eid/callback".into(),
                jwks_file: String::new(),
                personal_id_claim: "personal_id".into(),
                label: String::new(),
            },
            keys: parse_jwks(jwks).unwrap(),
        }
    }

    #[test]
    fn tokens_verify_only_when_everything_holds() {
        let k = key();
        let p = provider(&jwks(&k, "k1"));
        let now = 1_800_000_000;
        let claims = json!({"iss": "https://sso.example.vn", "aud": ["ansinh-dongnai"], "exp": now + 300, "iat": now,
            "nonce": "n-123", "personal_id": "075190001234", "sub": "opaque"});
        let h = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        let good = sign(&k, &h, &claims);
        assert_eq!(p.verify(&good, "n-123", now).unwrap(), "075190001234");
        assert_eq!(p.verify(&good, "n-999", now), Err(OidcError::Claim("nonce")));
        assert_eq!(p.verify(&good, "n-123", now + 1000), Err(OidcError::Expired));
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims.clone();
            f(&mut c);
            sign(&k, &h, &c)
        };
        assert_eq!(p.verify(&with(&|c| c["iss"] = json!("https://evil")), "n-123", now), Err(OidcError::Claim("iss")));
        assert_eq!(p.verify(&with(&|c| c["aud"] = json!("other")), "n-123", now), Err(OidcError::Claim("aud")));
        assert_eq!(p.verify(&with(&|c| c["iat"] = json!(now + 3600)), "n-123", now), Err(OidcError::Claim("iat")));
        assert_eq!(p.verify(&with(&|c| c["iat"] = Value::Null), "n-123", now), Err(OidcError::Claim("iat")));
        let two = with(&|c| c["aud"] = json!(["ansinh-dongnai", "other"]));
        assert_eq!(p.verify(&two, "n-123", now), Err(OidcError::Claim("azp")), "several audiences need azp");
        let two = with(&|c| {
            c["aud"] = json!(["ansinh-dongnai", "other"]);
            c["azp"] = json!("ansinh-dongnai");
        });
        assert_eq!(p.verify(&two, "n-123", now).unwrap(), "075190001234");
        assert_eq!(p.verify(&with(&|c| c["exp"] = json!(i64::MAX)), "n-123", now).unwrap(), "075190001234");
        assert!(matches!(
            p.verify(&with(&|c| c["personal_id"] = json!("12")), "n-123", now),
            Err(OidcError::PersonalId { .. })
        ));
        // a payload changed after signing, another key, alg none / HS256
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string().replace("075190001234", "075190009999"));
        parts[1] = &forged;
        assert_eq!(p.verify(&parts.join("."), "n-123", now), Err(OidcError::Signature));
        let other = key();
        assert_eq!(p.verify(&sign(&other, &h, &claims), "n-123", now), Err(OidcError::Signature));
        for alg in ["none", "HS256"] {
            let t = sign(&k, &json!({"alg": alg}), &claims);
            assert_eq!(p.verify(&t, "n-123", now), Err(OidcError::Algorithm(alg.into())));
        }
        assert!(matches!(p.verify("a.b", "n", now), Err(OidcError::Malformed(_))));
        let url = p.authorize_url("s 1", "n-123");
        assert!(
            url.starts_with("https://sso.example.vn/authorize?response_type=id_token&response_mode=form_post&"),
            "{url}"
        );
        assert!(
            url.contains("state=s+1")
                && url.contains("redirect_uri=https%3A%2F%2Fansinh.example.vn%2Fportal%2Feid%2Fcallback")
        );
    }

    #[test]
    fn jwks_and_settings_are_checked() {
        assert!(parse_jwks("{}").is_err());
        assert!(parse_jwks(r#"{"keys": [{"kty": "EC"}]}"#).unwrap_err().contains("no RSA"));
        assert!(parse_jwks(r#"{"keys": [{"kty": "RSA", "n": "!!"}]}"#).is_err());
        let e = Provider::load(Settings { issuer: "x".into(), ..Default::default() }).unwrap_err();
        assert!(e.contains("client_id"), "{e}");
    }
}
