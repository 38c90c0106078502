drop table audit_log;
drop table organizer_requests;
drop table login_codes;
drop table refresh_tokens;
drop table sessions;
drop table users;
drop function boxoffice_refuse_change();
