//! Plug & Charge cryptography with OpenSSL on a PKI made by `scripts/make-test-pki.sh`: the
//! contract chain validates against the MO root and not against others, an AuthorizationReq
//! signature made with the contract key verifies with the contract certificate and fails when
//! the element or the key changes, and the file backend relays a prepared response.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod iso2_support;

use ccs_linux::pnc::{FileCertificateBackend, OpensslSigner, OpensslVerifier, load_contract};
use ccs_msg::iso2::{
    AuthorizationReqType, BodyElement, CertificateChainType, Fragment,
    ListOfRootCertificateIDsType, ResponseCodeType, SubCertificatesType,
};
use ccs_proto::session::iso2::msg::{self, MessageKind};
use ccs_proto::session::iso2::pnc::{
    self, CertificateBackend, ContractSigner, ContractVerifier, PncError,
};
use iso2_support::make_pki;

fn chain(contract: &ccs_proto::session::iso2::ContractCredentials) -> CertificateChainType {
    CertificateChainType {
        id: None,
        certificate: contract.certificate.clone(),
        sub_certificates: Some(SubCertificatesType {
            certificate: contract.sub_certificates.clone(),
        }),
    }
}

#[test]
fn contract_chain_validates_against_the_mo_root_only() {
    let (_dir, pki) = make_pki();
    let contract = load_contract(&pki.join("contract_chain.pem")).unwrap();
    assert_eq!(contract.emaid, "DEPNXC000000001");
    assert_eq!(contract.sub_certificates.len(), 2);
    let verifier = OpensslVerifier::from_pem_files(&[pki.join("mo_root.pem")]).unwrap();
    let verified = verifier.verify_chain(&chain(&contract)).unwrap();
    assert_eq!(verified.common_name.as_deref(), Some("DEPNXC000000001"));

    let other = OpensslVerifier::from_pem_files(&[pki.join("v2g_root.pem")]).unwrap();
    let err = other.verify_chain(&chain(&contract)).unwrap_err();
    assert!(matches!(err, PncError::CertChain(_)), "{err}");
    assert_eq!(err.response_code(), ResponseCodeType::FAILED_CertChainError);

    // Without the sub-CAs the chain is broken too.
    let mut leaf_only = chain(&contract);
    leaf_only.sub_certificates = None;
    assert!(verifier.verify_chain(&leaf_only).is_err());
}

#[test]
fn authorization_signature_verifies_with_the_contract_certificate() {
    let (_dir, pki) = make_pki();
    let contract = load_contract(&pki.join("contract_chain.pem")).unwrap();
    let signer = OpensslSigner::from_pem_file(&pki.join("contract.key")).unwrap();
    let verifier = OpensslVerifier::from_pem_files(&[pki.join("mo_root.pem")]).unwrap();
    let auth = |challenge: u8| {
        Fragment::AuthorizationReq(AuthorizationReqType {
            id: Some("ID1".into()),
            gen_challenge: Some(vec![challenge; 16]),
        })
    };
    let raw = signer.sign(b"anything").unwrap();
    assert_eq!(raw.len(), 64, "raw r||s, not DER");

    let signature = pnc::sign(&signer, &[("ID1", auth(1))]).unwrap();
    pnc::verify(
        &verifier,
        &contract.certificate,
        &signature,
        &[("ID1", auth(1))],
    )
    .unwrap();
    // Another challenge: the digest no longer matches.
    let err = pnc::verify(
        &verifier,
        &contract.certificate,
        &signature,
        &[("ID1", auth(2))],
    )
    .unwrap_err();
    assert!(matches!(err, PncError::Signature(_)), "{err}");
    // Another key: the SignatureValue does not verify with the contract certificate.
    let stranger = OpensslSigner::from_pem_file(&pki.join("oem_prov.key")).unwrap();
    let forged = pnc::sign(&stranger, &[("ID1", auth(1))]).unwrap();
    let err = pnc::verify(
        &verifier,
        &contract.certificate,
        &forged,
        &[("ID1", auth(1))],
    )
    .unwrap_err();
    assert_eq!(err.response_code(), ResponseCodeType::FAILED_SignatureError);
}

#[test]
fn file_backend_relays_the_prepared_installation_response() {
    let dir = tempfile::tempdir().unwrap();
    let mut prepared = msg::failed_response(
        &[0; 8],
        MessageKind::CertificateInstallation,
        ResponseCodeType::OK,
        "ZZ00000",
        true,
    );
    if let Some(BodyElement::CertificateInstallationRes(res)) = &mut prepared.body.body_element {
        res.e_maid.value = "DEPNXC000000001".into();
    }
    std::fs::write(
        dir.path().join("CertificateInstallationRes.exi"),
        ccs_msg::iso2::encode(&prepared).unwrap(),
    )
    .unwrap();
    let backend = FileCertificateBackend::new(dir.path().to_path_buf());
    let req = ccs_msg::iso2::CertificateInstallationReqType {
        id: "ID1".into(),
        oem_provisioning_cert: vec![1, 2, 3],
        list_of_root_certificate_i_ds: ListOfRootCertificateIDsType {
            root_certificate_id: Vec::new(),
        },
    };
    let res = backend.certificate_installation(&req).unwrap();
    let BodyElement::CertificateInstallationRes(body) = res.body else {
        panic!("not a CertificateInstallationRes");
    };
    assert_eq!(body.e_maid.value, "DEPNXC000000001");
    // No prepared update: the backend says so (FAILED_NoCertificateAvailable).
    let update = ccs_msg::iso2::CertificateUpdateReqType {
        id: "ID1".into(),
        contract_signature_cert_chain: CertificateChainType {
            id: None,
            certificate: vec![1],
            sub_certificates: None,
        },
        e_maid: "DEPNXC000000001".into(),
        list_of_root_certificate_i_ds: ListOfRootCertificateIDsType {
            root_certificate_id: Vec::new(),
        },
    };
    let err = backend.certificate_update(&update).unwrap_err();
    assert_eq!(
        err.response_code(),
        ResponseCodeType::FAILED_NoCertificateAvailable
    );
}

#[test]
fn file_backend_relays_the_prepared_update_response_with_its_signature() {
    let dir = tempfile::tempdir().unwrap();
    let mut prepared = msg::failed_response(
        &[0; 8],
        MessageKind::CertificateUpdate,
        ResponseCodeType::OK,
        "ZZ00000",
        true,
    );
    if let Some(BodyElement::CertificateUpdateRes(res)) = &mut prepared.body.body_element {
        res.e_maid.id = "ID5".into();
        res.e_maid.value = "DEPNXC000000002".into();
    }
    // The CPS's header signature travels with the body.
    let (_pki_dir, pki) = make_pki();
    let cps = OpensslSigner::from_pem_file(&pki.join("cps.key")).unwrap();
    let emaid = match &prepared.body.body_element {
        Some(BodyElement::CertificateUpdateRes(res)) => res.e_maid.clone(),
        _ => unreachable!(),
    };
    prepared.header.signature =
        Some(pnc::sign(&cps, &[("ID5", pnc::emaid_fragment(&emaid))]).unwrap());
    std::fs::write(
        dir.path().join("CertificateUpdateRes.exi"),
        ccs_msg::iso2::encode(&prepared).unwrap(),
    )
    .unwrap();
    let backend = FileCertificateBackend::new(dir.path().to_path_buf());
    let update = ccs_msg::iso2::CertificateUpdateReqType {
        id: "ID1".into(),
        contract_signature_cert_chain: CertificateChainType {
            id: None,
            certificate: vec![1],
            sub_certificates: None,
        },
        e_maid: "DEPNXC000000001".into(),
        list_of_root_certificate_i_ds: ListOfRootCertificateIDsType {
            root_certificate_id: Vec::new(),
        },
    };
    let res = backend.certificate_update(&update).unwrap();
    let BodyElement::CertificateUpdateRes(body) = res.body else {
        panic!("not a CertificateUpdateRes");
    };
    assert_eq!(body.e_maid.value, "DEPNXC000000002");
    // The relayed signature still verifies over the eMAID with the CPS certificate.
    let cps_cert = openssl::x509::X509::from_pem(&std::fs::read(pki.join("cps.pem")).unwrap())
        .unwrap()
        .to_der()
        .unwrap();
    let verifier = OpensslVerifier::from_pem_files(&[pki.join("v2g_root.pem")]).unwrap();
    pnc::verify(
        &verifier,
        &cps_cert,
        res.signature.as_ref().unwrap(),
        &[("ID5", pnc::emaid_fragment(&body.e_maid))],
    )
    .unwrap();
}
