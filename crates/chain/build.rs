//! Prepares the FaultDisputeGame ABI for `alloy::sol!`.
//!
//! `getGame` returns the 25-field struct `Game`; alloy's sol types stop at 24-element tuples.
//! Every field of `Game` is a static type, so its ABI encoding is 25 words, the same as
//! `uint256[25]`: this script copies `contracts/artifacts/FaultDisputeGame.json` to OUT_DIR
//! with that one output retyped, and records the field names in order (`GAME_FIELDS`) so that
//! `types.rs` decodes the words by name. Everything else is the committed artifact as is.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let src = manifest.join("../../contracts/artifacts/FaultDisputeGame.json");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");

    let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("artifact is JSON");
    let abi = v["abi"].as_array_mut().expect("artifact has an abi array");
    let get_game = abi
        .iter_mut()
        .find(|e| e["type"] == "function" && e["name"] == "getGame")
        .expect("FaultDisputeGame ABI has getGame");
    let out0 = &mut get_game["outputs"][0];
    let comps = out0["components"]
        .as_array()
        .expect("getGame returns a struct")
        .clone();
    let mut names = Vec::new();
    for c in &comps {
        let ty = c["type"].as_str().unwrap();
        let is_static_word = ty == "address"
            || ty == "bool"
            || ty.starts_with("uint")
            || ty.starts_with("int")
            || (ty.starts_with("bytes") && ty.len() > 5);
        assert!(
            is_static_word && !ty.contains('['),
            "Game field {} has type {ty}: not one ABI word; update build.rs",
            c["name"]
        );
        names.push(c["name"].as_str().unwrap().to_string());
    }
    let n = comps.len();
    let ty = format!("uint256[{n}]");
    *out0 = serde_json::json!({ "name": "", "type": ty, "internalType": ty });

    let json_path = out.join("FaultDisputeGame.json");
    std::fs::write(&json_path, serde_json::to_string(&v).unwrap()).unwrap();
    let rs = format!(
        "alloy::sol!(\n    #[sol(rpc, all_derives)]\n    FaultDisputeGame,\n    {:?}\n);\n\
         /// Names of the `Game` struct's fields, in ABI order (`getGame` returns one word each).\n\
         pub const GAME_FIELDS: [&str; {n}] = {:?};\n",
        json_path.display().to_string(),
        names
    );
    std::fs::write(out.join("fault_dispute_game.rs"), rs).unwrap();
}
