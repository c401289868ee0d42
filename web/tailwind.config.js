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
  plugins: [],
}
