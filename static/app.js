import { initAll } from './govuk/govuk-frontend.min.js'

/**
 * A list of people that follows a choice of agency: once an agency is chosen, only its people
 * are offered (each option names its agency in data-agency; "I do not know" has none). A person
 * chosen from another agency is unchosen. Without this script every person is listed, with
 * their agency, and the server refuses a person from another agency with a message.
 */
function followAgency (people) {
  const agency = document.getElementById(people.dataset.filteredBy)
  if (!agency) return
  const everyone = Array.from(people.options)
  const update = () => {
    const chosen = agency.value
    const wanted = everyone.filter(
      (option) => !option.dataset.agency || chosen === '0' || option.dataset.agency === chosen
    )
    const selected = people.value
    people.replaceChildren(...wanted)
    people.value = wanted.some((option) => option.value === selected) ? selected : wanted[0].value
  }
  agency.addEventListener('change', update)
  update()
}

document.querySelectorAll('select[data-filtered-by]').forEach(followAgency)

initAll()
