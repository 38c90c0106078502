export { createInventory, HoldCode, inventoryKeys, type HoldItem, type HoldRequest, type HoldResult, type Inventory, type InventoryRecord, type ReleaseRequest } from './inventory.ts';
