// A text field has the focus (so a phone's on-screen keyboard is up), or lost it in the task that
// is still running (the root's data-typing, lib/typingHold.ts: a tap that takes the focus from the
// field ends on the layout it began on).
// One selector, not one variant each: Tailwind crosses a variant's list with max-sm:'s badly (some
// of the four came out without their media query, and the header left a tall page on every tap).
const TEXT_FOCUSED = ':is(:has(:is(textarea, input:not([type=checkbox], [type=radio], [type=file])):focus), [data-typing])'
// The chat's composer has it (ChatComposer.vue), or lost it in the task still running.
const COMPOSER_FOCUSED = ':is(:has(textarea[data-composer]:focus), [data-composing])'
// `focused` has the focus on a touch screen's page at most `height` tall, or (iOS) in a visual
// viewport shrunk by the keyboard to 480px or less (the root's data-short, lib/visualViewport.ts).
const typing = (focused, height) => [
  `@media (max-height: ${height}px) and (pointer: coarse) { :root${focused} & }`,
  `:root[data-short]${focused} &`,
]

/** @type {import('tailwindcss').Config} */
export default {
  content: ['./index.html', './src/**/*.{vue,ts}'],
  // Element Plus ships its own reset; Tailwind's preflight would fight it.
  corePlugins: { preflight: false },
  theme: {
    extend: {
      colors: { galaxy: { 50: '#f3f1ff', 100: '#e9e5ff', 500: '#6d5cf6', 600: '#5b47e8', 700: '#4b38c9', 900: '#241a63' } },
    },
  },
  plugins: [
    // finger: what a finger taps, finger-sized (.tap, styles.css): below sm (a phone), and at any
    // width where some pointer is a finger (a tablet, a touch laptop: any-pointer, since a touch
    // laptop's primary pointer is its trackpad). The phone's layout (icons alone, a drawer) stays
    // on the width (max-sm:); only the hit areas follow the pointer.
    ({ addVariant }) => addVariant('finger', '@media not all and (min-width: 640px), (any-pointer: coarse)'),
    // keyboard: a text field has the focus on a touch screen's page this short, so a phone's
    // on-screen keyboard is up (index.html's interactive-widget=resizes-content shrinks the page to
    // what it leaves): what can wait steps aside (below sm the app's header and the tab bar, the
    // persona chips; from sm, on a phone on its side, the app's and the chat's headers while the
    // composer has the focus, composing: below) for the conversation. Not on a short page alone: a
    // phone sharing its screen with another app is as short, and needs its navigation. Not with a
    // mouse (pointer: fine): no keyboard comes up over a short desktop window, whose persona chips
    // left on a click into the composer. A variant, not a screen: a raw screen would end the max-sm:
    // variants.
    // iOS Safari shrinks only the visual viewport, never the page: there lib/visualViewport.ts marks
    // the root data-short when the visual viewport is as short (a desktop's never is: it shrinks
    // only when zoomed in, which that leaves alone).
    ({ addVariant }) => addVariant('keyboard', typing(TEXT_FOCUSED, 480)),
    // composing: as keyboard:, with the chat's composer the field and the page at most 280px tall:
    // a phone on its side shows 300-390px of page without its keyboard (which may be put away
    // with the composer still focused: its navigation then stays) and 150-200px with it. What
    // steps aside sits above the composer, which keeps its place at the page's bottom. (What
    // steps aside under either variant comes back only after a tap that takes the focus from the
    // field, lib/typingHold.ts: below sm the tab bar under the composer, and the header over a
    // form's button, came back on the tap's touch and moved the button from under the finger.)
    ({ addVariant }) => addVariant('composing', typing(COMPOSER_FOCUSED, 280)),
    // short: a phone on its side (640x360 to 844x390; from sm up, so a phone upright with its
    // keyboard up keeps its own layout): the app's header, the chat's header and the composer take
    // a row each, so the conversation keeps at least half of the height. The navigation stays.
    // With its keyboard up for the composer (composing:) only the composer stays: of the 160-180px
    // the keyboard leaves the two headers took 90px, and the composer went under the keyboard.
    // Any pointer: a desktop window under 500px is as short, and its conversation gains the same
    // rows (the compact switches keep their words in their title, the desktop's Enter hint aside).
    ({ addVariant }) => addVariant('short', '@media (min-width: 640px) and (max-height: 500px)'),
  ],
}
