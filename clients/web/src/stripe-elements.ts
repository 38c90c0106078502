// Stripe Elements for a purchase whose payment is a Stripe PaymentIntent: Stripe.js is loaded from
// js.stripe.com (the server's CSP allows it only when Stripe is the provider), the Payment Element
// is mounted with the PaymentIntent's client secret, and confirming it leaves the rest to Stripe's
// webhook: the purchase turns confirmed and the page hears it over the socket.
interface StripeElement {
  mount(target: HTMLElement): void;
}
interface StripeElements {
  create(type: 'payment'): StripeElement;
}
interface StripeJs {
  elements(options: { clientSecret: string }): StripeElements;
  confirmPayment(options: { elements: StripeElements; redirect: 'if_required'; confirmParams?: { return_url: string } }): Promise<{ error?: { message?: string } }>;
}
declare global {
  interface Window {
    Stripe?: (publishableKey: string) => StripeJs;
  }
}

let loading: Promise<void> | null = null;

function loadStripeJs(): Promise<void> {
  loading ??= new Promise<void>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'https://js.stripe.com/v3/';
    script.onload = () => resolve();
    script.onerror = () => {
      loading = null;
      reject(new Error('Stripe.js could not be loaded'));
    };
    document.head.append(script);
  });
  return loading;
}

/** Mounts the card form into `target`; resolves with a function that confirms the payment. */
export async function mountStripePayment(target: HTMLElement, publishableKey: string, clientSecret: string): Promise<() => Promise<string | null>> {
  await loadStripeJs();
  if (!window.Stripe) throw new Error('Stripe.js did not start');
  const stripe = window.Stripe(publishableKey);
  const elements = stripe.elements({ clientSecret });
  elements.create('payment').mount(target);
  return async () => {
    const result = await stripe.confirmPayment({ elements, redirect: 'if_required', confirmParams: { return_url: location.href } });
    return result.error?.message ?? null;
  };
}
