drop table scanner_devices;
drop table promo_code_ticket_types;
drop table promo_codes;
drop table seats;
drop table ticket_types;
drop table events;
