#!/usr/bin/env bash
# Exports a registry database made by `ansinh demo --persons N` into the import template's
# columns, for the import benchmark (docs/benchmarks.md).
#   bench/registry_csv.sh /tmp/big/big.db > /tmp/big/persons.csv
set -euo pipefail
db=${1:?usage: registry_csv.sh REGISTRY.db}
sqlite3 "$db" -csv -header "SELECT p.personal_id AS 'Số định danh cá nhân', p.full_name AS 'Họ và tên', p.birth_date AS 'Ngày sinh',
  CASE p.sex WHEN 'male' THEN 'Nam' ELSE 'Nữ' END AS 'Giới tính', p.ethnicity AS 'Dân tộc', p.commune_code AS 'Mã xã',
  p.address_line AS 'Địa chỉ', COALESCE(p.legacy_address,'') AS 'Địa chỉ trước 01/07/2025', COALESCE(p.phone,'') AS 'Điện thoại',
  COALESCE(h.code,'') AS 'Mã hộ', COALESCE(p.relation_to_head,'') AS 'Quan hệ với chủ hộ', COALESCE(m.category,'') AS 'Diện người có công',
  COALESCE(m.decision_no, a.decision_no, '') AS 'Số quyết định', COALESCE(m.decision_date, a.decision_date, '') AS 'Ngày quyết định',
  COALESCE(m.injury_rate,'') AS 'Tỷ lệ thương tật', COALESCE(a.group_code,'') AS 'Nhóm bảo trợ xã hội', '' AS 'Mức độ khuyết tật',
  CASE pm.method WHEN 'bank' THEN 'chuyển khoản' WHEN 'cash' THEN 'tiền mặt' ELSE '' END AS 'Hình thức chi trả',
  COALESCE(pm.bank_name,'') AS 'Ngân hàng', COALESCE(pm.account_no,'') AS 'Số tài khoản', COALESCE(p.deceased_on,'') AS 'Ngày từ trần'
FROM persons p
LEFT JOIN households h ON h.id = p.household_id
LEFT JOIN merit_records m ON m.id = (SELECT min(id) FROM merit_records WHERE person_id = p.id)
LEFT JOIN assistance_records a ON a.id = (SELECT min(id) FROM assistance_records WHERE person_id = p.id)
LEFT JOIN payment_methods pm ON pm.id = (SELECT min(id) FROM payment_methods WHERE person_id = p.id)
ORDER BY p.id"
