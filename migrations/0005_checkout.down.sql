drop table sandbox_payments;
drop index purchases_promo_live_idx;
drop index purchases_customer_event_idx;
alter table purchases drop column promo_returned, drop column pricing, drop column promo_code_id;
