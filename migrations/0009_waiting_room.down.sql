alter table events drop column admit_per_second, drop column waiting_room, drop column high_demand;
