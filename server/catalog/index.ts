export { DEMO_EVENT_SLUG, DEMO_ORGANIZER_EMAIL, seedDemo, type DemoSeed } from './demo-seed.ts';
