//! Table tests of the configurable rules: configuration loading, classification, routing,
//! SLA deadlines, notices and submission validation.

use domain::rules::Rules;
use domain::types::Policy;

#[test]
fn the_built_in_configuration_compiles() {
    let rules = Rules::defaults();
    assert!(rules.version().starts_with("sha256:"));
    assert!(rules.is_department("after_sales"));
}
